//! Interned expanded names. The rule set interns every name its expressions test once at load;
//! each document is then bound to that table by looking up its own few distinct names, so a name
//! test during evaluation is one integer comparison.

use rustc_hash::FxHashMap;

use crate::xml::{Document, NodeId, NodeKind};

/// Index of a name in a [`NameTable`].
pub type NameId = u32;

const NONE: u32 = u32::MAX;

/// The names the compiled expressions test.
/// Keyed by namespace then local name, so a lookup borrows both strings instead of building a key.
#[derive(Debug, Default, Clone)]
pub struct NameTable {
    map: FxHashMap<Box<str>, FxHashMap<Box<str>, NameId>>,
    len: usize,
}

impl NameTable {
    pub fn intern(&mut self, ns: &str, local: &str) -> NameId {
        if let Some(id) = self.lookup(ns, local) {
            return id;
        }
        let id = self.len as NameId;
        self.len += 1;
        self.map.entry(ns.into()).or_default().insert(local.into(), id);
        id
    }

    pub fn lookup(&self, ns: &str, local: &str) -> Option<NameId> {
        self.map.get(ns).and_then(|m| m.get(local)).copied()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A document bound to a name table, with its elements indexed by name so that
/// `descendant::X` is a binary search instead of a walk.
#[derive(Debug)]
pub struct BoundDocument<'d> {
    pub doc: &'d Document,
    /// Document name index → table id (or NONE).
    doc_to_table: Vec<NameId>,
    /// Table id → index into `by_name` (or NONE): a plain vector, so lookups do no hashing.
    table_to_slot: Vec<u32>,
    /// Elements per name known to the table, in document order.
    by_name: Vec<Vec<NodeId>>,
    /// Table id → index into `attrs_by_name` (or NONE).
    table_to_attr_slot: Vec<u32>,
    /// Attributes per name known to the table, as (element, position), in document order.
    attrs_by_name: Vec<Vec<(NodeId, u32)>>,
    /// Per node: its position in `by_name` among the elements of its name (or NONE).
    rank: Vec<u32>,
}

impl<'d> BoundDocument<'d> {
    pub fn new(doc: &'d Document, table: &NameTable) -> BoundDocument<'d> {
        let doc_to_table: Vec<NameId> =
            doc.names().iter().map(|n| table.lookup(&n.ns, &n.local).unwrap_or(NONE)).collect();
        let mut table_to_slot = vec![NONE; table.len()];
        let mut by_name: Vec<Vec<NodeId>> = Vec::new();
        let mut table_to_attr_slot = vec![NONE; table.len()];
        let mut attrs_by_name: Vec<Vec<(NodeId, u32)>> = Vec::new();
        let mut rank = vec![NONE; doc.len()];
        for id in doc.descendants(NodeId::DOCUMENT) {
            if doc.kind(id) == NodeKind::Element {
                for k in 0..doc.attribute_count(id) {
                    let t = doc_to_table[doc.attribute(id, k).0];
                    if t != NONE {
                        let slot = &mut table_to_attr_slot[t as usize];
                        if *slot == NONE {
                            *slot = attrs_by_name.len() as u32;
                            attrs_by_name.push(Vec::new());
                        }
                        attrs_by_name[*slot as usize].push((id, k as u32));
                    }
                }
                if let Some(i) = doc.name_index(id) {
                    let t = doc_to_table[i];
                    if t != NONE {
                        let slot = &mut table_to_slot[t as usize];
                        if *slot == NONE {
                            *slot = by_name.len() as u32;
                            by_name.push(Vec::new());
                        }
                        let same = &mut by_name[*slot as usize];
                        rank[id.index()] = same.len() as u32;
                        same.push(id);
                    }
                }
            }
        }
        BoundDocument { doc, doc_to_table, table_to_slot, by_name, table_to_attr_slot, attrs_by_name, rank }
    }

    /// Every element with the name, in document order.
    fn all_named(&self, name: NameId) -> &[NodeId] {
        match self.table_to_slot.get(name as usize) {
            Some(slot) if *slot != NONE => &self.by_name[*slot as usize],
            _ => &[],
        }
    }

    /// How many elements have the name.
    pub fn count_named(&self, name: NameId) -> usize {
        self.all_named(name).len()
    }

    /// The element's position among the document's elements of its name, when the name is one
    /// the table knows: an index for tables kept per element of one name.
    pub fn rank(&self, id: NodeId) -> Option<usize> {
        self.rank.get(id.index()).filter(|r| **r != NONE).map(|r| *r as usize)
    }

    /// Whether any element of the document has the name.
    pub fn has_element_named(&self, name: NameId) -> bool {
        self.table_to_slot.get(name as usize).is_some_and(|s| *s != NONE)
    }

    /// Whether any attribute of the document has the name.
    pub fn has_attribute_named(&self, name: NameId) -> bool {
        self.table_to_attr_slot.get(name as usize).is_some_and(|s| *s != NONE)
    }

    /// Attributes named `name` on `id` or its descendants, in document order.
    pub fn attributes_named(&self, id: NodeId, name: NameId) -> &[(NodeId, u32)] {
        let slot = self.table_to_attr_slot.get(name as usize).copied().unwrap_or(NONE);
        if slot == NONE {
            return &[];
        }
        let all = &self.attrs_by_name[slot as usize];
        let lo = all.partition_point(|(n, _)| *n < id);
        let end = self.doc.descendants_end(id);
        let hi = all.partition_point(|(n, _)| *n < end);
        if lo >= hi { &[] } else { &all[lo..hi] }
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
        let all = self.all_named(name);
        let lo = all.partition_point(|n| *n <= id);
        let end = self.doc.descendants_end(id);
        let hi = all.partition_point(|n| *n < end);
        if lo >= hi { &[] } else { &all[lo..hi] }
    }
}
