//! Interned expanded names. The rule set interns every name its expressions test once at load;
//! each document is then bound to that table by looking up its own few distinct names, so a name
//! test during evaluation is one integer comparison.

use std::collections::HashMap;

use crate::xml::{Document, NodeId, NodeKind};

/// Index of a name in a [`NameTable`].
pub type NameId = u32;

const NONE: u32 = u32::MAX;

/// The names the compiled expressions test.
#[derive(Debug, Default, Clone)]
pub struct NameTable {
    map: HashMap<(Box<str>, Box<str>), NameId>,
}

impl NameTable {
    pub fn intern(&mut self, ns: &str, local: &str) -> NameId {
        let next = self.map.len() as NameId;
        *self.map.entry((ns.into(), local.into())).or_insert(next)
    }

    pub fn lookup(&self, ns: &str, local: &str) -> Option<NameId> {
        self.map.get(&(Box::from(ns), Box::from(local))).copied()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A document bound to a name table, with its elements indexed by name so that
/// `descendant::X` is a binary search instead of a walk.
#[derive(Debug)]
pub struct BoundDocument<'d> {
    pub doc: &'d Document,
    /// Document name index → table id (or NONE).
    doc_to_table: Vec<NameId>,
    /// Table id → elements with that name, in document order.
    by_name: HashMap<NameId, Vec<NodeId>>,
}

impl<'d> BoundDocument<'d> {
    pub fn new(doc: &'d Document, table: &NameTable) -> BoundDocument<'d> {
        let doc_to_table: Vec<NameId> =
            doc.names().iter().map(|n| table.lookup(&n.ns, &n.local).unwrap_or(NONE)).collect();
        let mut by_name: HashMap<NameId, Vec<NodeId>> = HashMap::new();
        for id in doc.descendants(NodeId::DOCUMENT) {
            if doc.kind(id) == NodeKind::Element {
                if let Some(i) = doc.name_index(id) {
                    let t = doc_to_table[i];
                    if t != NONE {
                        by_name.entry(t).or_default().push(id);
                    }
                }
            }
        }
        BoundDocument { doc, doc_to_table, by_name }
    }

    /// Whether element `id` has the interned name `name`.
    #[inline]
    pub fn has_name(&self, id: NodeId, name: NameId) -> bool {
        match self.doc.name_index(id) {
            Some(i) => self.doc_to_table[i] == name,
            None => false,
        }
    }

    /// Whether the attribute with document name index `i` has the interned name `name`.
    #[inline]
    pub fn name_index_is(&self, i: usize, name: NameId) -> bool {
        self.doc_to_table.get(i) == Some(&name)
    }

    /// Elements named `name` among the descendants of `id`, in document order.
    pub fn descendants_named(&self, id: NodeId, name: NameId) -> &[NodeId] {
        let Some(all) = self.by_name.get(&name) else { return &[] };
        let lo = all.partition_point(|n| *n <= id);
        let end = self.doc.descendants_end(id);
        let hi = all.partition_point(|n| *n < end);
        if lo >= hi { &[] } else { &all[lo..hi] }
    }
}
