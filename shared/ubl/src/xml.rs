//! A hardened, read-only XML tree for untrusted e-invoices.
//!
//! The file is checked (size, UTF-8, no DOCTYPE or entity declarations, depth) and read once with
//! quick-xml into one arena: nodes in document (pre-)order, so document order is index order and
//! the descendants of a node are the contiguous range `id+1 .. end`. All text lives in one buffer
//! addressed by spans, so the document is copied once. Names are resolved by namespace URI, never by
//! prefix; the prefix is kept only to print locations and for XPath `name()`.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// Namespace of UBL Invoice documents.
pub const NS_INVOICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
/// Namespace of UBL CreditNote documents.
pub const NS_CREDIT_NOTE: &str = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2";
/// UBL common aggregate components (`cac:`).
pub const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
/// UBL common basic components (`cbc:`).
pub const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

/// Limits applied while reading an untrusted file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted element nesting.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 20 * 1024 * 1024, max_depth: 128 }
    }
}

/// Why a file could not be read as XML. Each variant names what is wrong and, where it applies,
/// where (byte offset in the file).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the file is not XML: it looks like {0}")]
    NotXml(&'static str),
    #[error("the file is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("the XML declaration names encoding \"{0}\"; only UTF-8 documents are accepted")]
    UnsupportedEncoding(String),
    #[error(
        "a DOCTYPE declaration is not allowed in an e-invoice (entity expansion and external fetches are refused)"
    )]
    Doctype,
    #[error("entity reference &{name}; at byte {offset} is not one of XML's predefined entities")]
    UnknownEntity { name: String, offset: usize },
    #[error("element nesting deeper than {limit} levels at byte {offset}")]
    TooDeep { limit: usize, offset: usize },
    #[error("namespace prefix \"{prefix}\" is not declared (byte {offset})")]
    UnboundPrefix { prefix: String, offset: usize },
    #[error("malformed XML at byte {offset}: {message}")]
    Malformed { offset: usize, message: String },
    #[error("the file has no root element")]
    NoRoot,
}

/// Identifies a node of one [`Document`]. Ordered as the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The document node, parent of the root element.
    pub const DOCUMENT: NodeId = NodeId(0);
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Document,
    Element,
    Text,
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    len: u32,
}

#[derive(Debug, Clone)]
struct Node {
    kind: NodeKind,
    parent: u32,
    next_sibling: u32,
    first_child: u32,
    /// One past the last descendant.
    end: u32,
    /// Elements: index into `names`; text: unused.
    name: u32,
    /// Elements: the qualified name as written; text: the content.
    span: Span,
    attrs_start: u32,
    attrs_len: u32,
}

#[derive(Debug, Clone)]
struct Attr {
    name: u32,
    value: Span,
}

/// A namespace-resolved name: what XPath name tests compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExpandedName {
    pub ns: Box<str>,
    pub local: Box<str>,
}

/// A parsed XML document.
#[derive(Debug, Clone)]
pub struct Document {
    nodes: Vec<Node>,
    attrs: Vec<Attr>,
    buf: String,
    names: Vec<ExpandedName>,
}

impl Document {
    /// Reads `bytes` as an XML document within `limits`.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Document, XmlError> {
        if bytes.len() > limits.max_bytes {
            return Err(XmlError::TooLarge { size: bytes.len(), limit: limits.max_bytes });
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
        let Some(first) = first else { return Err(XmlError::Empty) };
        sniff_non_xml(&bytes[first..])?;
        let text = std::str::from_utf8(bytes).map_err(|e| {
            // A file that says it is in another encoding is refused for that, not for its bytes.
            match declared_encoding(&bytes[first..]) {
                Some(enc) if !is_utf8_label(&enc) => XmlError::UnsupportedEncoding(enc),
                _ => XmlError::NotUtf8 { offset: e.valid_up_to() },
            }
        })?;
        Builder::new(text.len()).run(text, limits)
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The document element.
    pub fn root(&self) -> NodeId {
        NodeId(self.nodes[0].first_child)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    pub fn kind(&self, id: NodeId) -> NodeKind {
        self.node(id).kind
    }

    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        let p = self.node(id).parent;
        (p != NONE).then_some(NodeId(p))
    }

    /// All children (elements and text) in order.
    pub fn children(&self, id: NodeId) -> Children<'_> {
        Children { doc: self, next: self.node(id).first_child }
    }

    /// Element children in order.
    pub fn elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.children(id).filter(|c| self.kind(*c) == NodeKind::Element)
    }

    /// Descendants in document order (not including `id`).
    pub fn descendants(&self, id: NodeId) -> impl Iterator<Item = NodeId> + use<> {
        (id.0 + 1..self.node(id).end).map(NodeId)
    }

    /// One past the last descendant: the descendants of `id` are `id+1 .. end`.
    pub fn descendants_end(&self, id: NodeId) -> NodeId {
        NodeId(self.node(id).end)
    }

    /// The element's name index (see [`Document::names`]); `None` for other nodes.
    pub fn name_index(&self, id: NodeId) -> Option<usize> {
        let n = self.node(id);
        (n.kind == NodeKind::Element).then_some(n.name as usize)
    }

    /// The distinct element and attribute names of this document.
    pub fn names(&self) -> &[ExpandedName] {
        &self.names
    }

    pub fn local_name(&self, id: NodeId) -> &str {
        match self.name_index(id) {
            Some(i) => &self.names[i].local,
            None => "",
        }
    }

    pub fn namespace(&self, id: NodeId) -> &str {
        match self.name_index(id) {
            Some(i) => &self.names[i].ns,
            None => "",
        }
    }

    /// The prefix as written in the file ("" for none).
    pub fn prefix(&self, id: NodeId) -> &str {
        self.qualified_name(id).split_once(':').map(|(p, _)| p).unwrap_or("")
    }

    /// The element's name as written (`prefix:local`), "" for other nodes.
    pub fn qualified_name(&self, id: NodeId) -> &str {
        let n = self.node(id);
        if n.kind == NodeKind::Element { self.span(n.span) } else { "" }
    }

    /// Whether the element is `{ns}local`.
    pub fn is(&self, id: NodeId, ns: &str, local: &str) -> bool {
        match self.name_index(id) {
            Some(i) => &*self.names[i].local == local && &*self.names[i].ns == ns,
            None => false,
        }
    }

    /// The first element child named `{ns}local`.
    pub fn child(&self, id: NodeId, ns: &str, local: &str) -> Option<NodeId> {
        self.elements(id).find(|c| self.is(*c, ns, local))
    }

    /// Element children named `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        id: NodeId,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = NodeId> + 'a {
        self.elements(id).filter(move |c| self.is(*c, ns, local))
    }

    /// The element's attributes as (name index, value).
    pub fn attributes(&self, id: NodeId) -> impl Iterator<Item = (usize, &str)> + '_ {
        let n = self.node(id);
        let range = n.attrs_start as usize..(n.attrs_start + n.attrs_len) as usize;
        self.attrs[range].iter().map(|a| (a.name as usize, self.span(a.value)))
    }

    /// How many attributes the element has.
    pub fn attribute_count(&self, id: NodeId) -> usize {
        self.node(id).attrs_len as usize
    }

    /// The element's `k`-th attribute as (name index, value).
    pub fn attribute(&self, id: NodeId, k: usize) -> (usize, &str) {
        let a = &self.attrs[self.node(id).attrs_start as usize + k];
        (a.name as usize, self.span(a.value))
    }

    /// The value of the attribute without namespace named `local`.
    pub fn attr(&self, id: NodeId, local: &str) -> Option<&str> {
        self.attributes(id)
            .find(|(name, _)| self.names[*name].ns.is_empty() && &*self.names[*name].local == local)
            .map(|(_, v)| v)
    }

    /// The content of a text node.
    pub fn text_content(&self, id: NodeId) -> &str {
        let n = self.node(id);
        if n.kind == NodeKind::Text { self.span(n.span) } else { "" }
    }

    /// The XPath string value: the concatenated text of all descendants. Borrowed when the node
    /// holds at most one text node, which is every leaf element of a UBL document.
    pub fn string_value(&self, id: NodeId) -> Cow<'_, str> {
        let n = self.node(id);
        match n.kind {
            NodeKind::Text => Cow::Borrowed(self.span(n.span)),
            _ => {
                let mut texts = (id.0 + 1..n.end)
                    .filter(|i| self.nodes[*i as usize].kind == NodeKind::Text)
                    .map(|i| self.span(self.nodes[i as usize].span));
                match (texts.next(), texts.next()) {
                    (None, _) => Cow::Borrowed(""),
                    (Some(one), None) => Cow::Borrowed(one),
                    (Some(a), Some(b)) => {
                        let mut s = String::with_capacity(a.len() + b.len());
                        s.push_str(a);
                        s.push_str(b);
                        texts.for_each(|t| s.push_str(t));
                        Cow::Owned(s)
                    }
                }
            }
        }
    }

    /// Whitespace-trimmed string value of the first child `{ns}local`, if any.
    pub fn child_text(&self, id: NodeId, ns: &str, local: &str) -> Option<Cow<'_, str>> {
        self.child(id, ns, local).map(|c| match self.string_value(c) {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
        })
    }

    /// A readable location such as `/Invoice/cac:InvoiceLine[2]/cbc:ID`: each step is the name as
    /// written with its position among same-named siblings when there is more than one.
    pub fn path(&self, id: NodeId) -> String {
        let mut steps = Vec::new();
        let mut cur = Some(id);
        while let Some(n) = cur {
            match self.kind(n) {
                NodeKind::Document => break,
                NodeKind::Text => steps.push("text()".to_owned()),
                NodeKind::Element => {
                    let parent = self.parent(n).unwrap_or(NodeId::DOCUMENT);
                    let name = self.name_index(n);
                    let same: Vec<NodeId> =
                        self.elements(parent).filter(|c| self.name_index(*c) == name).collect();
                    let step = self.qualified_name(n).to_owned();
                    if same.len() > 1 {
                        let pos = same.iter().position(|c| *c == n).unwrap_or(0) + 1;
                        steps.push(format!("{step}[{pos}]"));
                    } else {
                        steps.push(step);
                    }
                }
            }
            cur = self.parent(n);
        }
        steps.reverse();
        format!("/{}", steps.join("/"))
    }

    fn span(&self, s: Span) -> &str {
        &self.buf[s.start as usize..(s.start + s.len) as usize]
    }
}

/// Iterator over the children of a node.
pub struct Children<'a> {
    doc: &'a Document,
    next: u32,
}

impl Iterator for Children<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        if self.next == NONE {
            return None;
        }
        let id = NodeId(self.next);
        self.next = self.doc.nodes[self.next as usize].next_sibling;
        Some(id)
    }
}

/// Refuses well-known binary formats up front, so a PDF dropped in the inbox gets a plain reason.
fn sniff_non_xml(head: &[u8]) -> Result<(), XmlError> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"\xFF\xFE", "a UTF-16 text file"),
        (b"\xFE\xFF", "a UTF-16 text file"),
        (b"{", "a JSON document"),
        (b"[", "a JSON document"),
    ];
    for (sig, what) in SIGNATURES {
        if head.starts_with(sig) {
            return Err(XmlError::NotXml(what));
        }
    }
    if head[0] != b'<' {
        return Err(XmlError::NotXml("text that does not start with '<'"));
    }
    Ok(())
}

struct Builder {
    doc: Document,
    /// Namespace → local name → index, looked up with borrowed strings (no key is built per element).
    name_ids: FxHashMap<Box<str>, FxHashMap<Box<str>, u32>>,
    /// Open elements, innermost last; the document node at the bottom.
    stack: Vec<u32>,
    /// Last child appended under each open element, to link siblings.
    last_child: Vec<u32>,
}

impl Builder {
    fn new(capacity: usize) -> Builder {
        let document = Node {
            kind: NodeKind::Document,
            parent: NONE,
            next_sibling: NONE,
            first_child: NONE,
            end: 1,
            name: NONE,
            span: Span::default(),
            attrs_start: 0,
            attrs_len: 0,
        };
        Builder {
            doc: Document {
                nodes: vec![document],
                attrs: Vec::new(),
                // Text is usually most of a UBL file; names and markup are not copied.
                buf: String::with_capacity(capacity / 2),
                names: Vec::new(),
            },
            name_ids: FxHashMap::default(),
            stack: vec![0],
            last_child: vec![NONE],
        }
    }

    fn intern(&mut self, ns: &str, local: &str) -> u32 {
        if let Some(id) = self.name_ids.get(ns).and_then(|m| m.get(local)) {
            return *id;
        }
        let id = self.doc.names.len() as u32;
        self.name_ids.entry(ns.into()).or_default().insert(local.into(), id);
        self.doc.names.push(ExpandedName { ns: ns.into(), local: local.into() });
        id
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.doc.buf.len() as u32;
        self.doc.buf.push_str(s);
        Span { start, len: s.len() as u32 }
    }

    fn append(&mut self, node: Node) -> u32 {
        let id = self.doc.nodes.len() as u32;
        let parent = *self.stack.last().unwrap_or(&0);
        let depth = self.last_child.len() - 1;
        let prev = self.last_child[depth];
        if prev == NONE {
            self.doc.nodes[parent as usize].first_child = id;
        } else {
            self.doc.nodes[prev as usize].next_sibling = id;
        }
        self.last_child[depth] = id;
        self.doc.nodes.push(node);
        id
    }

    /// Appends text to the current element, merging with a text node just before it.
    fn text(&mut self, s: &str) {
        if s.is_empty() || self.stack.len() == 1 {
            // Text outside the root element can only be whitespace in well-formed XML.
            return;
        }
        let depth = self.last_child.len() - 1;
        let prev = self.last_child[depth];
        let last = self.doc.nodes.len() as u32 - 1;
        if prev != NONE && prev == last && self.doc.nodes[last as usize].kind == NodeKind::Text {
            self.doc.buf.push_str(s);
            self.doc.nodes[last as usize].span.len += s.len() as u32;
            self.doc.nodes[last as usize].end = last + 1;
            return;
        }
        let span = self.push_str(s);
        let parent = *self.stack.last().unwrap_or(&0);
        let id = self.doc.nodes.len() as u32;
        self.append(Node {
            kind: NodeKind::Text,
            parent,
            next_sibling: NONE,
            first_child: NONE,
            end: id + 1,
            name: NONE,
            span,
            attrs_start: 0,
            attrs_len: 0,
        });
    }

    fn run(mut self, text: &str, limits: &Limits) -> Result<Document, XmlError> {
        let mut reader = NsReader::from_str(text);
        reader.config_mut().check_end_names = true;
        reader.config_mut().trim_text(false);
        let mut root_seen = false;
        loop {
            let offset = reader.buffer_position() as usize;
            let event = reader.read_event().map_err(|e| XmlError::Malformed {
                offset: reader.error_position() as usize,
                message: e.to_string(),
            })?;
            match event {
                Event::Decl(decl) => {
                    if let Some(Ok(enc)) = decl.encoding() {
                        let enc = enc.trim().to_ascii_lowercase();
                        if !is_utf8_label(&enc) {
                            return Err(XmlError::UnsupportedEncoding(enc));
                        }
                    }
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let empty = matches!(event, Event::Empty(_));
                    if self.stack.len() == 1 {
                        if root_seen {
                            return Err(XmlError::Malformed {
                                offset,
                                message: "a second root element".into(),
                            });
                        }
                        root_seen = true;
                    }
                    if self.stack.len() > limits.max_depth {
                        return Err(XmlError::TooDeep { limit: limits.max_depth, offset });
                    }
                    let (res, local) = reader.resolver().resolve_element(e.name());
                    let ns = resolved(res, e.name().prefix().map(|p| p.into_inner()), offset)?;
                    let local = local.into_inner();
                    let name = self.intern(ns, local);
                    // The name as written: `name()` and locations return it without building it.
                    let qname = self.push_str(e.name().into_inner());
                    let attrs_start = self.doc.attrs.len() as u32;
                    for attr in e.attributes() {
                        let attr =
                            attr.map_err(|err| XmlError::Malformed { offset, message: err.to_string() })?;
                        if attr.key.as_namespace_binding().is_some() {
                            continue;
                        }
                        let (res, local) = reader.resolver().resolve_attribute(attr.key);
                        let ans = resolved(res, attr.key.prefix().map(|p| p.into_inner()), offset)?;
                        let local = local.into_inner();
                        let value = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(
                            |err| match err {
                                quick_xml::Error::Escape(
                                    quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                                ) => XmlError::UnknownEntity { name, offset },
                                other => XmlError::Malformed { offset, message: other.to_string() },
                            },
                        )?;
                        let aname = self.intern(ans, local);
                        let value = self.push_str(&value);
                        self.doc.attrs.push(Attr { name: aname, value });
                    }
                    let attrs_len = self.doc.attrs.len() as u32 - attrs_start;
                    let parent = *self.stack.last().unwrap_or(&0);
                    let id = self.doc.nodes.len() as u32;
                    self.append(Node {
                        kind: NodeKind::Element,
                        parent,
                        next_sibling: NONE,
                        first_child: NONE,
                        end: id + 1,
                        name,
                        span: qname,
                        attrs_start,
                        attrs_len,
                    });
                    if empty {
                        self.close(id);
                    } else {
                        self.stack.push(id);
                        self.last_child.push(NONE);
                    }
                }
                Event::End(_) => {
                    let id = self.stack.pop().unwrap_or(0);
                    self.last_child.pop();
                    self.close(id);
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    if self.stack.len() == 1 && !content.trim().is_empty() {
                        return Err(XmlError::Malformed {
                            offset,
                            message: "text outside the root element".into(),
                        });
                    }
                    self.text(&content);
                }
                Event::CData(c) => {
                    let content = c.xml10_content();
                    self.text(&content);
                }
                Event::GeneralRef(r) => {
                    let ch = match r.resolve_char_ref() {
                        Ok(Some(ch)) => ch,
                        Ok(None) => match &*r.into_inner() {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            other => {
                                return Err(XmlError::UnknownEntity { name: other.into(), offset });
                            }
                        },
                        Err(e) => {
                            return Err(XmlError::Malformed { offset, message: e.to_string() });
                        }
                    };
                    let mut tmp = [0u8; 4];
                    self.text(ch.encode_utf8(&mut tmp));
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }
        if self.stack.len() > 1 {
            return Err(XmlError::Malformed {
                offset: text.len(),
                message: "the document ends before its elements are closed (truncated file?)".into(),
            });
        }
        if !root_seen {
            return Err(XmlError::NoRoot);
        }
        let total = self.doc.nodes.len() as u32;
        self.doc.nodes[0].end = total;
        Ok(self.doc)
    }

    /// Records where the element's descendants end.
    fn close(&mut self, id: u32) {
        let end = self.doc.nodes.len() as u32;
        self.doc.nodes[id as usize].end = end;
    }
}

fn resolved<'a>(res: ResolveResult<'a>, prefix: Option<&str>, offset: usize) -> Result<&'a str, XmlError> {
    match res {
        ResolveResult::Bound(ns) => Ok(ns.into_inner()),
        ResolveResult::Unbound => Ok(""),
        ResolveResult::Unknown(p) => Err(XmlError::UnboundPrefix {
            prefix: if p.is_empty() { prefix.unwrap_or_default().to_owned() } else { p },
            offset,
        }),
    }
}

/// Encoding labels whose documents are UTF-8 (ASCII is a subset), lower case.
fn is_utf8_label(label: &str) -> bool {
    matches!(label, "utf-8" | "utf8" | "us-ascii" | "ascii")
}

/// The `encoding` of an XML declaration at the start of `bytes`, lower case, read from the raw
/// bytes (the declaration is ASCII in every ASCII-compatible encoding).
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let decl = &head[..head.windows(2).position(|w| w == b"?>")?];
    let at = decl.windows(8).position(|w| w == b"encoding")? + 8;
    // XML allows white space around the `=`.
    let rest = decl[at..].trim_ascii_start().strip_prefix(b"=")?.trim_ascii_start();
    let quote = *rest.first().filter(|q| matches!(q, b'"' | b'\''))?;
    let end = rest[1..].iter().position(|&b| b == quote)?;
    let label = std::str::from_utf8(&rest[1..1 + end]).ok()?;
    Some(label.trim().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Document, XmlError> {
        Document::parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn builds_tree_in_document_order_with_namespaces_by_uri() {
        let doc = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:c="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <c:ID schemeID="x">A &amp; B&#65;</c:ID><c:Note/>
</Invoice>"#,
        )
        .unwrap();
        let root = doc.root();
        assert!(doc.is(root, NS_INVOICE, "Invoice"));
        let id = doc.child(root, NS_CBC, "ID").unwrap();
        assert_eq!(doc.string_value(id), "A & BA");
        assert_eq!(doc.attr(id, "schemeID"), Some("x"));
        assert_eq!(doc.prefix(id), "c");
        assert_eq!(doc.path(id), "/Invoice/c:ID");
        let note = doc.child(root, NS_CBC, "Note").unwrap();
        assert!(note > id);
        assert_eq!(doc.descendants(root).filter(|n| doc.kind(*n) == NodeKind::Element).count(), 2);
        assert_eq!(doc.descendants_end(root).index(), doc.len());
    }

    #[test]
    fn refuses_doctype_and_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
        assert_eq!(parse(xxe).unwrap_err(), XmlError::Doctype);
        assert!(matches!(parse("<x>&e;</x>").unwrap_err(), XmlError::UnknownEntity { .. }));
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(parse("").unwrap_err(), XmlError::Empty);
        assert_eq!(parse("%PDF-1.4 ...").unwrap_err(), XmlError::NotXml("a PDF document"));
        assert!(matches!(parse("<a><b></a>").unwrap_err(), XmlError::Malformed { .. }));
        assert!(matches!(parse("<a><b>").unwrap_err(), XmlError::Malformed { .. }));
        assert!(matches!(parse("<p:a/>").unwrap_err(), XmlError::UnboundPrefix { .. }));
        assert!(matches!(
            parse(r#"<?xml version="1.0" encoding="UTF-16"?><a/>"#).unwrap_err(),
            XmlError::UnsupportedEncoding(_)
        ));
        assert!(matches!(
            Document::parse(b"<a>\xff</a>", &Limits::default()).unwrap_err(),
            XmlError::NotUtf8 { offset: 3 }
        ));
        // A Latin-1 file is refused for its declared encoding, not for its bytes.
        assert_eq!(
            Document::parse(
                b"<?xml version='1.0' encoding = 'ISO-8859-1'?><a>caf\xe9</a>",
                &Limits::default()
            )
            .unwrap_err(),
            XmlError::UnsupportedEncoding("iso-8859-1".into())
        );
        assert!(matches!(
            Document::parse(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\xe9</a>", &Limits::default())
                .unwrap_err(),
            XmlError::NotUtf8 { .. }
        ));
        let deep = "<a>".repeat(200) + &"</a>".repeat(200);
        assert!(matches!(parse(&deep).unwrap_err(), XmlError::TooDeep { .. }));
        let small = Limits { max_bytes: 10, ..Limits::default() };
        assert!(matches!(
            Document::parse(b"<a>0123456789</a>", &small).unwrap_err(),
            XmlError::TooLarge { .. }
        ));
    }
}
