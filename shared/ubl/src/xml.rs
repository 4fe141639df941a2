//! A hardened, read-only XML tree for untrusted e-invoices.
//!
//! The file is checked (size, UTF-8, no DOCTYPE or entity declarations, depth) and read once into
//! one arena: nodes in document (pre-)order, so document order is index order, the descendants of
//! a node are the contiguous range `id+1 .. end` and a node's next sibling starts at its `end`.
//! Text, names as written and attribute values live in one buffer addressed by spans; each run of
//! indentation is stored once. Names are resolved by namespace URI, never by prefix; the prefix is
//! kept only to print locations and for XPath `name()`.
//!
//! Two readers build the same tree. A fast one reads the plain XML e-invoices are made of
//! (elements, attributes, text with the predefined and character references, comments, CDATA)
//! straight from the validated text. At anything else, and at every error, it gives up and the
//! general reader on quick-xml reads the file from the start: it builds the same tree or says what
//! is wrong and where. So the fast reader accepts only what the general one accepts and never has
//! to word an error.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memmem};
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

/// The namespace the `xml` prefix is always bound to.
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of `xmlns` attributes, which nothing may bind.
const NS_XMLNS: &str = "http://www.w3.org/2000/xmlns/";

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

/// Files above this are refused whatever the limits say: spans are 32-bit and the buffer can hold
/// up to about three times the file (names as written, normalised text).
const HARD_MAX_BYTES: usize = 1 << 30;

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
/// `Node::name` of a text node.
const TEXT: u32 = u32::MAX;
/// `Node::name` of the document node.
const DOC: u32 = u32::MAX - 1;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// 16 bytes: a large invoice has millions of nodes. First child and next sibling need no field
/// (`id+1` and `end` in pre-order), the kind is told by `name`, and a text node, which has no
/// descendants, keeps its content's span where an element keeps its end and attributes.
#[derive(Debug, Clone, Copy)]
struct Node {
    parent: u32,
    /// Element and document: one past the last descendant. Text: where the content starts in `buf`.
    a: u32,
    /// Element: index into `names`; text: `TEXT`; document: `DOC`.
    name: u32,
    /// Element: its first attribute in `attrs` (they run while `owner` is the element). Text: the
    /// content's length in bytes. Document: 0.
    b: u32,
}

impl Node {
    fn end(&self, id: u32) -> u32 {
        if self.name == TEXT { id + 1 } else { self.a }
    }
}

#[derive(Debug, Clone)]
struct Attr {
    owner: u32,
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
    /// Per name: the qualified name as the first element of that name wrote it (empty while only
    /// attributes have the name).
    qnames: Vec<Span>,
    /// Elements written with another prefix than the first element of their name, in document
    /// order: rare, so looked up by binary search rather than kept per node.
    other_qnames: Vec<(u32, Span)>,
}

impl Document {
    /// Reads `bytes` as an XML document within `limits`.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Document, XmlError> {
        Document::read(bytes, limits, true)
    }

    /// [`Document::parse`], with the fast reader first or (to compare the two) without it.
    fn read(bytes: &[u8], limits: &Limits, fast: bool) -> Result<Document, XmlError> {
        if bytes.len() > limits.max_bytes {
            return Err(XmlError::TooLarge { size: bytes.len(), limit: limits.max_bytes });
        }
        if bytes.len() > HARD_MAX_BYTES {
            return Err(XmlError::TooLarge { size: bytes.len(), limit: HARD_MAX_BYTES });
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
        if fast && let Some(doc) = Fast::new(text, limits).run() {
            return Ok(doc);
        }
        Builder::new(text).run(text, limits)
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The document element.
    pub fn root(&self) -> NodeId {
        // Nothing before the root element becomes a node (text outside it is white space).
        NodeId(1)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    pub fn kind(&self, id: NodeId) -> NodeKind {
        match self.node(id).name {
            TEXT => NodeKind::Text,
            DOC => NodeKind::Document,
            _ => NodeKind::Element,
        }
    }

    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        let p = self.node(id).parent;
        (p != NONE).then_some(NodeId(p))
    }

    /// All children (elements and text) in order.
    pub fn children(&self, id: NodeId) -> Children<'_> {
        Children { doc: self, next: id.0 + 1, stop: self.node(id).end(id.0) }
    }

    /// Element children in order.
    pub fn elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.children(id).filter(|c| self.kind(*c) == NodeKind::Element)
    }

    /// Descendants in document order (not including `id`).
    pub fn descendants(&self, id: NodeId) -> impl Iterator<Item = NodeId> + use<> {
        (id.0 + 1..self.node(id).end(id.0)).map(NodeId)
    }

    /// One past the last descendant: the descendants of `id` are `id+1 .. end`.
    pub fn descendants_end(&self, id: NodeId) -> NodeId {
        NodeId(self.node(id).end(id.0))
    }

    /// The element's name index (see [`Document::names`]); `None` for other nodes.
    pub fn name_index(&self, id: NodeId) -> Option<usize> {
        let name = self.node(id).name;
        (name < DOC).then_some(name as usize)
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
        let Some(name) = self.name_index(id) else { return "" };
        if !self.other_qnames.is_empty()
            && let Ok(k) = self.other_qnames.binary_search_by_key(&id.0, |(n, _)| *n)
        {
            return self.span(self.other_qnames[k].1);
        }
        self.span(self.qnames[name])
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

    /// The element's attributes, in `attrs` from its first while they are its own.
    fn attrs_of(&self, id: NodeId) -> &[Attr] {
        let n = self.node(id);
        if n.name >= DOC {
            return &[];
        }
        let rest = self.attrs.get(n.b as usize..).unwrap_or_default();
        let len = rest.iter().take_while(|a| a.owner == id.0).count();
        &rest[..len]
    }

    /// The element's attributes as (name index, value).
    pub fn attributes(&self, id: NodeId) -> impl Iterator<Item = (usize, &str)> + '_ {
        self.attrs_of(id).iter().map(|a| (a.name as usize, self.span(a.value)))
    }

    /// How many attributes the element has.
    pub fn attribute_count(&self, id: NodeId) -> usize {
        self.attrs_of(id).len()
    }

    /// The element's `k`-th attribute as (name index, value).
    pub fn attribute(&self, id: NodeId, k: usize) -> (usize, &str) {
        let a = &self.attrs_of(id)[k];
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
        if n.name == TEXT { self.text_of(n) } else { "" }
    }

    fn text_of(&self, n: &Node) -> &str {
        self.span(Span { start: n.a, len: n.b })
    }

    /// The XPath string value: the concatenated text of all descendants. Borrowed when the node
    /// holds at most one text node, which is every leaf element of a UBL document.
    pub fn string_value(&self, id: NodeId) -> Cow<'_, str> {
        let n = self.node(id);
        if n.name == TEXT {
            return Cow::Borrowed(self.text_of(n));
        }
        let mut texts = self.nodes[id.index() + 1..n.end(id.0) as usize]
            .iter()
            .filter(|d| d.name == TEXT)
            .map(|d| self.text_of(d));
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

    /// Where `text` lies in the document's text, as (start, length), when it is a piece of it
    /// (the text of a node, a name, an attribute value): a position takes 8 bytes where a string
    /// reference takes 16.
    pub fn position_of(&self, text: &str) -> Option<(u32, u32)> {
        let base = self.buf.as_ptr() as usize;
        let start = (text.as_ptr() as usize).checked_sub(base)?;
        let end = start.checked_add(text.len())?;
        if end > self.buf.len() {
            return None;
        }
        Some((u32::try_from(start).ok()?, u32::try_from(text.len()).ok()?))
    }

    /// The piece of the document's text at a position from [`Document::position_of`].
    pub fn text_at(&self, (start, len): (u32, u32)) -> Option<&str> {
        self.buf.get(start as usize..(start as usize).checked_add(len as usize)?)
    }
}

/// Iterator over the children of a node.
pub struct Children<'a> {
    doc: &'a Document,
    next: u32,
    /// The parent's end: children follow one another up to it.
    stop: u32,
}

impl Iterator for Children<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        if self.next >= self.stop {
            return None;
        }
        let id = self.next;
        self.next = self.doc.nodes[id as usize].end(id);
        Some(NodeId(id))
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

/// Indentation runs ("\n" then up to this many less one spaces or tabs) are stored once each.
const INDENT_MAX: usize = 64;

/// Builds the tree for both readers, so they cannot differ in what they make of the same events.
struct Builder {
    doc: Document,
    /// Namespace → local name → index, looked up with borrowed strings (no key is built per name).
    name_ids: FxHashMap<Box<str>, FxHashMap<Box<str>, u32>>,
    /// Open elements, innermost last; the document node at the bottom.
    stack: Vec<u32>,
    /// Where each indentation run is in `buf` once stored: by spaces or tabs, then length.
    indents: [[u32; INDENT_MAX]; 2],
}

impl Builder {
    fn new(text: &str) -> Builder {
        // From the size: a pretty-printed UBL file has a node per 20 bytes and an attribute per
        // 250; the buffer holds less than the file but for odd ones. Room that is never filled is
        // never touched, so it costs address space, not memory, and for invoices the arrays are
        // not copied to grow (counting `<` first cost as much as reading the names).
        let mut nodes = Vec::with_capacity(text.len() / 12 + 2);
        nodes.push(Node { parent: NONE, a: 1, name: DOC, b: 0 });
        Builder {
            doc: Document {
                nodes,
                attrs: Vec::with_capacity(text.len() / 64),
                buf: String::with_capacity(text.len()),
                names: Vec::new(),
                qnames: Vec::new(),
                other_qnames: Vec::new(),
            },
            name_ids: FxHashMap::default(),
            stack: vec![0],
            indents: [[NONE; INDENT_MAX]; 2],
        }
    }

    fn intern(&mut self, ns: &str, local: &str) -> u32 {
        if let Some(id) = self.name_ids.get(ns).and_then(|m| m.get(local)) {
            return *id;
        }
        let id = self.doc.names.len() as u32;
        self.name_ids.entry(ns.into()).or_default().insert(local.into(), id);
        self.doc.names.push(ExpandedName { ns: ns.into(), local: local.into() });
        self.doc.qnames.push(Span::default());
        id
    }

    /// Records how an element of `name` is written: the first one sets the name's qualified name;
    /// another prefix gets a span of its own, returned for the element to keep.
    fn qname_of(&mut self, name: u32, qname: &str) -> Option<Span> {
        let first = self.doc.qnames[name as usize];
        if first.len == 0 {
            self.doc.qnames[name as usize] = self.push_str(qname);
            None
        } else if self.doc.span(first) == qname {
            None
        } else {
            Some(self.push_str(qname))
        }
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.doc.buf.len() as u32;
        self.doc.buf.push_str(s);
        Span { start, len: s.len() as u32 }
    }

    /// Appends an element under the current one; its attributes follow with [`Builder::attr`].
    fn element(&mut self, name: u32, other_qname: Option<Span>) -> u32 {
        let id = self.doc.nodes.len() as u32;
        let parent = *self.stack.last().unwrap_or(&0);
        if let Some(q) = other_qname {
            self.doc.other_qnames.push((id, q));
        }
        self.doc.nodes.push(Node { parent, a: id + 1, name, b: self.doc.attrs.len() as u32 });
        id
    }

    fn attr(&mut self, owner: u32, name: u32, value: &str) {
        let value = self.push_str(value);
        self.doc.attrs.push(Attr { owner, name, value });
    }

    /// Records where the element's descendants end.
    fn close(&mut self, id: u32) {
        let end = self.doc.nodes.len() as u32;
        self.doc.nodes[id as usize].a = end;
    }

    /// Appends text to the current element, merging with a text node just before it.
    fn text(&mut self, s: &str) {
        if s.is_empty() || self.stack.len() == 1 {
            // Text outside the root element can only be whitespace in well-formed XML.
            return;
        }
        let parent = *self.stack.last().unwrap_or(&0);
        let last = self.doc.nodes.len() - 1;
        let prev = self.doc.nodes[last];
        if prev.name == TEXT && prev.parent == parent {
            let mut start = prev.a;
            if (prev.a + prev.b) as usize != self.doc.buf.len() {
                // A shared indentation run: the node gets a copy of its own to grow.
                let own = self.doc.text_of(&prev).to_owned();
                start = self.push_str(&own).start;
            }
            self.doc.buf.push_str(s);
            self.doc.nodes[last].a = start;
            self.doc.nodes[last].b = prev.b + s.len() as u32;
            return;
        }
        let span = self.text_span(s);
        self.doc.nodes.push(Node { parent, a: span.start, name: TEXT, b: span.len });
    }

    /// Appends `s`, an indentation run of `kind` (see [`indentation`]), as [`Builder::text`] does.
    fn indentation(&mut self, s: &str, kind: usize) {
        let parent = *self.stack.last().unwrap_or(&0);
        let prev = self.doc.nodes[self.doc.nodes.len() - 1];
        let slot = self.indents[kind][s.len() - 1];
        if self.stack.len() == 1 || (prev.name == TEXT && prev.parent == parent) || slot == NONE {
            self.text(s);
            return;
        }
        self.doc.nodes.push(Node { parent, a: slot, name: TEXT, b: s.len() as u32 });
    }

    /// Where new text goes: a stored indentation run if it is one, else appended.
    fn text_span(&mut self, s: &str) -> Span {
        if let [b'\n', rest @ ..] = s.as_bytes()
            && rest.len() < INDENT_MAX
        {
            let kind = match rest.first() {
                None | Some(b' ') => Some(0),
                Some(b'\t') => Some(1),
                _ => None,
            };
            if let Some(kind) = kind
                && rest.iter().all(|&c| c == rest[0])
            {
                let slot = self.indents[kind][rest.len()];
                if slot != NONE {
                    return Span { start: slot, len: s.len() as u32 };
                }
                let span = self.push_str(s);
                self.indents[kind][rest.len()] = span.start;
                return span;
            }
        }
        self.push_str(s)
    }

    fn finish(mut self) -> Document {
        let total = self.doc.nodes.len() as u32;
        self.doc.nodes[0].a = total;
        self.doc
    }

    /// The general reader: quick-xml's namespace-aware reader, for every file the fast one gives
    /// up on; the errors it reports are the reasons a file is refused.
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
                    let name = self.intern(ns, local.into_inner());
                    let other_qname = self.qname_of(name, e.name().into_inner());
                    let id = self.element(name, other_qname);
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
                        self.attr(id, aname, &value);
                    }
                    if empty {
                        self.close(id);
                    } else {
                        self.stack.push(id);
                    }
                }
                Event::End(_) => {
                    let id = self.stack.pop().unwrap_or(0);
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
                        Ok(None) => match predefined_entity(&r) {
                            Some(ch) => ch,
                            None => {
                                return Err(XmlError::UnknownEntity { name: r.into_inner().into(), offset });
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
        Ok(self.finish())
    }
}

/// The character of one of XML's five predefined entities.
fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

/// The character of a reference in the fast reader: a predefined entity, or a character reference
/// that quick-xml reads as the same character (plain digits, not 0, a Unicode scalar value).
fn reference(name: &str) -> Option<char> {
    if let Some(ch) = predefined_entity(name) {
        return Some(ch);
    }
    let num = name.strip_prefix('#')?;
    let (digits, radix) = match num.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (num, 10),
    };
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| char::from(b).is_digit(radix)) {
        return None;
    }
    let code = u32::from_str_radix(digits, radix).ok()?;
    if code == 0 {
        return None;
    }
    char::from_u32(code)
}

/// Bytes that may continue a name in the fast reader: ASCII letters, digits, `-`, `.`, `_`.
/// Names with other characters are left to the general reader.
const NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_';
        b += 1;
    }
    t
};

/// What ends or marks text: 1 for `<`, 2 for `&` and carriage return.
const TEXT_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'<' as usize] = 1;
    t[b'&' as usize] = 2;
    t[b'\r' as usize] = 2;
    t
};

/// The `<` after an indentation run at `pos` ("\n" then spaces, or tabs: most text nodes of a
/// pretty-printed file) and its kind (0 spaces, 1 tabs), if there is one.
fn indentation(bytes: &[u8], pos: usize) -> Option<(usize, usize)> {
    if bytes.get(pos) != Some(&b'\n') {
        return None;
    }
    let mut p = pos + 1;
    let fill = *bytes.get(p)?;
    let kind = match fill {
        b' ' => 0,
        b'\t' => 1,
        b'<' => return Some((p, 0)),
        _ => return None,
    };
    // Eight at a time: one 64-bit comparison.
    while bytes.get(p..p + 8).is_some_and(|run| run == [fill; 8]) {
        p += 8;
    }
    while bytes.get(p) == Some(&fill) {
        p += 1;
    }
    (bytes.get(p) == Some(&b'<') && p - pos <= INDENT_MAX).then_some((p, kind))
}

/// Where the text at `pos` ends (the next `<`, or the end) and whether it has a `&` or a carriage
/// return. Most text is short (indentation, a code, an amount): a plain loop finds its end faster
/// than a SIMD search is set up; long text (an embedded attachment) goes to the search.
fn text_end(bytes: &[u8], pos: usize) -> (usize, bool) {
    let head = &bytes[pos..bytes.len().min(pos + 32)];
    let mut special = false;
    for (i, &c) in head.iter().enumerate() {
        match TEXT_BYTE[c as usize] {
            0 => {}
            1 => return (pos + i, special),
            _ => special = true,
        }
    }
    let from = pos + head.len();
    let lt = memchr(b'<', &bytes[from..]).map_or(bytes.len(), |i| from + i);
    (lt, special || memchr2(b'&', b'\r', &bytes[from..lt]).is_some())
}

fn name_start_byte(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

/// XML's white space.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// The end of the name at `start`: a local name or `prefix:local`, each starting with a letter or
/// `_`. `None` when there is none there.
fn name_end(bytes: &[u8], start: usize) -> Option<usize> {
    if !name_start_byte(*bytes.get(start)?) {
        return None;
    }
    let mut p = start + 1;
    let mut colon = false;
    while let Some(&c) = bytes.get(p) {
        if NAME_BYTE[c as usize] {
            p += 1;
        } else if c == b':' && !colon && name_start_byte(*bytes.get(p + 1)?) {
            colon = true;
            p += 2;
        } else {
            break;
        }
    }
    Some(p)
}

/// The prefix an attribute named `key` binds (`""` for the default namespace), if it is a
/// namespace declaration.
fn binding_prefix(key: &str) -> Option<&str> {
    if key == "xmlns" { Some("") } else { key.strip_prefix("xmlns:") }
}

/// More changes of namespace bindings than this and the fast reader leaves the file to the
/// general one, as its caches of resolved names start over at each change.
const MAX_BINDING_CHANGES: usize = 64;

/// The fast reader. Every `None` means "not sure": the general reader reads the file instead.
struct Fast<'a> {
    text: &'a str,
    b: Builder,
    max_depth: usize,
    /// Open elements, innermost last: node, name as written, bindings in scope before it.
    open: Vec<(u32, &'a str, usize)>,
    /// Namespace bindings in scope, innermost last: prefix ("" for the default), namespace.
    bindings: Vec<(&'a str, &'a str)>,
    /// Elements so far that declared bindings (each starts the name caches over).
    binding_changes: usize,
    /// Element names as written → (name index, own qualified-name span when not the name's first),
    /// valid while the bindings stay as they are.
    element_names: FxHashMap<&'a str, (u32, Option<Span>)>,
    /// Attribute names as written → name index, likewise.
    attr_names: FxHashMap<&'a str, u32>,
    /// The attributes of the start tag being read: name as written, raw value.
    tag: Vec<(&'a str, &'a str)>,
    /// Text being normalised.
    scratch: String,
}

impl<'a> Fast<'a> {
    fn new(text: &'a str, limits: &Limits) -> Fast<'a> {
        Fast {
            text,
            b: Builder::new(text),
            max_depth: limits.max_depth,
            open: Vec::new(),
            bindings: Vec::new(),
            binding_changes: 0,
            element_names: FxHashMap::default(),
            attr_names: FxHashMap::default(),
            tag: Vec::new(),
            scratch: String::new(),
        }
    }

    fn run(mut self) -> Option<Document> {
        let bytes = self.text.as_bytes();
        let mut pos = self.prolog()?;
        let mut root_seen = false;
        loop {
            let lt = match indentation(bytes, pos) {
                Some((lt, kind)) if !self.open.is_empty() => {
                    self.b.indentation(self.text.get(pos..lt)?, kind);
                    lt
                }
                _ => {
                    let (lt, special) = text_end(bytes, pos);
                    if lt > pos {
                        self.text(pos, lt, special)?;
                    }
                    lt
                }
            };
            if lt == bytes.len() {
                break;
            }
            pos = match *bytes.get(lt + 1)? {
                b'/' => self.end_tag(lt)?,
                b'!' => self.bang(lt)?,
                _ => {
                    if self.open.is_empty() {
                        if root_seen {
                            return None;
                        }
                        root_seen = true;
                    }
                    self.start_tag(lt)?
                }
            };
        }
        if !self.open.is_empty() || !root_seen {
            return None;
        }
        Some(self.b.finish())
    }

    /// Where the document proper starts: after the XML declaration, read by quick-xml as the
    /// general reader does, if the file opens with one.
    fn prolog(&self) -> Option<usize> {
        let bytes = self.text.as_bytes();
        if !bytes.starts_with(b"<?xml") {
            return Some(0);
        }
        let end = 5 + memmem::find(&bytes[5..], b"?>")? + 2;
        let mut reader = quick_xml::Reader::from_str(self.text.get(..end)?);
        let Ok(Event::Decl(decl)) = reader.read_event() else { return None };
        match decl.encoding() {
            None => {}
            Some(Ok(enc)) if is_utf8_label(&enc.trim().to_ascii_lowercase()) => {}
            Some(_) => return None,
        }
        Some(end)
    }

    /// Text from `from` to the `<` at `to`; `special` if it has a `&` or a carriage return.
    fn text(&mut self, from: usize, to: usize, special: bool) -> Option<()> {
        let s = self.text.get(from..to)?;
        if self.open.is_empty() {
            // Only white space may stand outside the root element.
            return s.bytes().all(is_space).then_some(());
        }
        match special.then(|| memchr2(b'&', b'\r', s.as_bytes())).flatten() {
            None => {
                self.b.text(s);
                Some(())
            }
            Some(i) => self.normalised(s, i, true),
        }
    }

    /// Text with a reference (when `refs`) or a carriage return at `i`: line ends become `\n`
    /// (XML 1.0 § 2.11) and references their character. Built whole first, so that indentation
    /// of a file with CR LF line ends is still stored once.
    fn normalised(&mut self, s: &str, mut i: usize, refs: bool) -> Option<()> {
        let bytes = s.as_bytes();
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let mut from = 0;
        loop {
            out.push_str(s.get(from..i)?);
            if bytes[i] == b'\r' {
                out.push('\n');
                from = if bytes.get(i + 1) == Some(&b'\n') { i + 2 } else { i + 1 };
            } else {
                // A reference runs to the next `;`; a lone `&` is the general reader's to refuse.
                let semi = i + 1 + memchr2(b';', b'&', &bytes[i + 1..])?;
                if bytes[semi] != b';' {
                    return None;
                }
                out.push(reference(s.get(i + 1..semi)?)?);
                from = semi + 1;
            }
            let next =
                if refs { memchr2(b'&', b'\r', &bytes[from..]) } else { memchr(b'\r', &bytes[from..]) };
            match next {
                Some(j) => i = from + j,
                None => {
                    out.push_str(s.get(from..)?);
                    self.b.text(&out);
                    self.scratch = out;
                    return Some(());
                }
            }
        }
    }

    /// `</name>` at `lt`, which must close the innermost open element.
    fn end_tag(&mut self, lt: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let &(id, qname, bindings) = self.open.last()?;
        let start = lt + 2;
        let mut end = start + qname.len();
        if bytes.get(start..end)? != qname.as_bytes() {
            return None;
        }
        // quick-xml trims white space after the name, as XML allows.
        while is_space(*bytes.get(end)?) {
            end += 1;
        }
        if bytes[end] != b'>' {
            return None;
        }
        self.open.pop();
        self.b.stack.pop();
        self.b.close(id);
        self.unbind(bindings);
        Some(end + 1)
    }

    /// A comment or a CDATA section at `lt`; anything else starting `<!` (DOCTYPE) is refused by
    /// the general reader.
    fn bang(&mut self, lt: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let rest = &bytes[lt..];
        if rest.starts_with(b"<!--") {
            let body_end = lt + 4 + memmem::find(&bytes[lt + 4..], b"-->")?;
            let body = &bytes[lt + 4..body_end];
            // XML forbids `--` in a comment; what such a file is, the general reader says.
            if body.last() == Some(&b'-') || memmem::find(body, b"--").is_some() {
                return None;
            }
            Some(body_end + 3)
        } else if rest.starts_with(b"<![CDATA[") && !self.open.is_empty() {
            let start = lt + 9;
            let end = start + memmem::find(&bytes[start..], b"]]>")?;
            let content = self.text.get(start..end)?;
            match memchr(b'\r', content.as_bytes()) {
                None => self.b.text(content),
                Some(i) => self.normalised(content, i, false)?,
            }
            Some(end + 3)
        } else {
            None
        }
    }

    /// A start tag at `lt`: `<name`, attributes `name="value"` each after white space, `>` or `/>`.
    fn start_tag(&mut self, lt: usize) -> Option<usize> {
        let text = self.text;
        let bytes = text.as_bytes();
        let qname_end = name_end(bytes, lt + 1)?;
        let qname = text.get(lt + 1..qname_end)?;
        let mut tag = std::mem::take(&mut self.tag);
        tag.clear();
        let mut p = qname_end;
        let empty = loop {
            match *bytes.get(p)? {
                b'>' => {
                    p += 1;
                    break false;
                }
                b'/' if bytes.get(p + 1) == Some(&b'>') => {
                    p += 2;
                    break true;
                }
                c if is_space(c) => {}
                _ => return None,
            }
            while is_space(*bytes.get(p)?) {
                p += 1;
            }
            if matches!(bytes[p], b'>' | b'/') {
                continue;
            }
            let key_end = name_end(bytes, p)?;
            let key = text.get(p..key_end)?;
            p = key_end;
            while is_space(*bytes.get(p)?) {
                p += 1;
            }
            if bytes[p] != b'=' {
                return None;
            }
            p += 1;
            while is_space(*bytes.get(p)?) {
                p += 1;
            }
            let quote = bytes[p];
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            let close = p + 1 + memchr(quote, &bytes[p + 1..])?;
            tag.push((key, text.get(p + 1..close)?));
            p = close + 1;
        };
        let before = self.bindings.len();
        let id = self.element(qname, &tag)?;
        if empty {
            self.b.close(id);
            self.unbind(before);
        } else {
            self.b.stack.push(id);
            self.open.push((id, qname, before));
        }
        self.tag = tag;
        Some(p)
    }

    /// The element of a start tag with its attributes, after the checks the general reader makes
    /// (depth, duplicate attributes, namespace declarations, bound prefixes).
    fn element(&mut self, qname: &'a str, tag: &[(&'a str, &'a str)]) -> Option<u32> {
        // quick-xml counts nesting in 16 bits.
        if self.open.len() + 1 > self.max_depth || self.open.len() + 1 >= usize::from(u16::MAX) {
            return None;
        }
        // Duplicates are looked for pair by pair: a tag with many attributes is left to quick-xml.
        if tag.len() > 32 {
            return None;
        }
        let mut declares = false;
        for (k, &(key, value)) in tag.iter().enumerate() {
            if tag[..k].iter().any(|(other, _)| *other == key) {
                return None;
            }
            if let Some(prefix) = binding_prefix(key) {
                if value.is_empty()
                    || value.contains(['&', '<'])
                    || value == NS_XML
                    || value == NS_XMLNS
                    || prefix == "xml"
                    || prefix == "xmlns"
                    || self.bindings.len() >= 100
                {
                    return None;
                }
                self.bindings.push((prefix, value));
                declares = true;
            }
        }
        if declares {
            self.rebound()?;
        }
        let (name, other_qname) = match self.element_names.get(qname) {
            Some(&known) => known,
            None => {
                let (ns, local) = self.resolve(qname, true)?;
                let name = self.b.intern(ns, local);
                let other = self.b.qname_of(name, qname);
                self.element_names.insert(qname, (name, other));
                (name, other)
            }
        };
        let id = self.b.element(name, other_qname);
        for &(key, value) in tag {
            if binding_prefix(key).is_some() {
                continue;
            }
            let name = match self.attr_names.get(key) {
                Some(&known) => known,
                None => {
                    let (ns, local) = self.resolve(key, false)?;
                    let name = self.b.intern(ns, local);
                    self.attr_names.insert(key, name);
                    name
                }
            };
            if value.bytes().any(|c| matches!(c, b'\t' | b'\n' | b'\r' | b'&' | b'<')) {
                if value.contains('<') {
                    return None;
                }
                let attr = quick_xml::events::attributes::Attribute {
                    key: quick_xml::name::QName(key),
                    value: Cow::Borrowed(value),
                };
                let value = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()?;
                self.b.attr(id, name, &value);
            } else {
                self.b.attr(id, name, value);
            }
        }
        Some(id)
    }

    /// `{namespace}local` of a name as written, for an element (unprefixed: the default
    /// namespace) or an attribute (unprefixed: none).
    fn resolve(&self, qname: &'a str, element: bool) -> Option<(&'a str, &'a str)> {
        let (prefix, local) = match qname.split_once(':') {
            Some((p, l)) => (p, l),
            None if !element => return Some(("", qname)),
            None => ("", qname),
        };
        let ns = match prefix {
            "xml" => NS_XML,
            "xmlns" => return None,
            _ => match self.bindings.iter().rev().find(|(p, _)| *p == prefix) {
                Some((_, ns)) => ns,
                None if prefix.is_empty() => "",
                None => return None,
            },
        };
        Some((ns, local))
    }

    /// The bindings changed: names as written may mean others now.
    fn rebound(&mut self) -> Option<()> {
        self.binding_changes += 1;
        if self.binding_changes > MAX_BINDING_CHANGES {
            return None;
        }
        self.element_names.clear();
        self.attr_names.clear();
        Some(())
    }

    /// Ends the scope of the bindings after the first `keep`.
    fn unbind(&mut self, keep: usize) {
        if self.bindings.len() > keep {
            self.bindings.truncate(keep);
            // Clearing is bounded: at most MAX_BINDING_CHANGES declaring elements got this far.
            self.element_names.clear();
            self.attr_names.clear();
        }
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

/// The two readers compared on one input, for the tests and the differential fuzz target (the
/// `differential` feature): the fast reader's tree must be the general reader's, and
/// [`Document::parse`] must answer as the general reader does, tree or error.
#[cfg(any(test, feature = "differential"))]
pub mod differential {
    use super::*;

    /// Whether the fast reader read `bytes` (`Ok(true)`) or left it to the general one
    /// (`Ok(false)`); `Err` says how the two disagree.
    pub fn check(bytes: &[u8], limits: &Limits) -> Result<bool, String> {
        let general = Document::read(bytes, limits, false);
        let parsed = Document::read(bytes, limits, true);
        match (&parsed, &general) {
            (Ok(p), Ok(g)) if dump(p) != dump(g) => {
                return Err(format!("parse and the general reader build different trees for {bytes:?}"));
            }
            (Err(p), Err(g)) if p != g => {
                return Err(format!("parse says {p:?}, the general reader {g:?}, for {bytes:?}"));
            }
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
                return Err(format!("only one of parse and the general reader fails ({e:?}) for {bytes:?}"));
            }
            _ => {}
        }
        // The fast reader alone, on the text the checks before it let through.
        if matches!(
            &general,
            Err(XmlError::NotXml(_)
                | XmlError::Empty
                | XmlError::TooLarge { .. }
                | XmlError::NotUtf8 { .. }
                | XmlError::UnsupportedEncoding(_))
        ) {
            return Ok(false);
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let Ok(text) = std::str::from_utf8(bytes) else { return Ok(false) };
        let Some(fast) = Fast::new(text, limits).run() else { return Ok(false) };
        match &general {
            Ok(g) if dump(&fast) == dump(g) => Ok(true),
            Ok(_) => Err(format!("the fast and general readers build different trees for {text:?}")),
            Err(e) => Err(format!("the fast reader accepts what the general one refuses ({e}): {text:?}")),
        }
    }

    /// Everything the public API tells of a document, node by node.
    pub fn dump(doc: &Document) -> String {
        let mut out = String::new();
        for i in 0..doc.len() {
            let id = NodeId(i as u32);
            let name = |n: usize| format!("{{{}}}{}", doc.names()[n].ns, doc.names()[n].local);
            out += &format!(
                "{i} {:?} parent={:?} end={} children={:?} name={:?} q={:?} prefix={:?} path={}",
                doc.kind(id),
                doc.parent(id),
                doc.descendants_end(id).index(),
                doc.children(id).map(|c| c.0).collect::<Vec<_>>(),
                doc.name_index(id).map(name),
                doc.qualified_name(id),
                doc.prefix(id),
                doc.path(id),
            );
            let attrs: Vec<String> = doc.attributes(id).map(|(n, v)| format!("{}={v:?}", name(n))).collect();
            out += &format!(" attrs={attrs:?} count={}", doc.attribute_count(id));
            out += &format!(" text={:?} value={:?}\n", doc.text_content(id), doc.string_value(id));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Document, XmlError> {
        Document::parse(s.as_bytes(), &Limits::default())
    }

    /// The fast reader either leaves `s` to the general one or builds what the general one builds;
    /// `parse` answers as the general reader does.
    fn check_same(s: &str) -> bool {
        differential::check(s.as_bytes(), &Limits::default()).unwrap_or_else(|e| panic!("{e}"))
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

    const FEATURES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- head -->\r\n<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\" xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\" xmlns:cac=\"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\">\r\n  <cbc:ID schemeID=\"a&amp;b\tc\r\nd\">A &lt;&#65;&#x42;&gt; B\r\nC\rD</cbc:ID>\n  <cbc:Note><![CDATA[x < y\r\n]]>&amp;<!-- c -->tail</cbc:Note>\n  <cac:Party><x:ID xmlns:x=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\" xml:lang='en'>1</x:ID><cbc:ID/></cac:Party>\n\t<Inner xmlns=\"urn:other\"><Deep a=\"1\" b = '2'/></Inner>\n\t<Back/>\n  \n  &amp;\n</Invoice>\n<!-- tail -->\n";

    #[test]
    fn fast_reader_builds_what_the_general_one_builds() {
        assert!(check_same(FEATURES), "the fast reader reads every feature of the sample");
        let doc = parse(FEATURES).unwrap();
        let root = doc.root();
        let id = doc.child(root, NS_CBC, "ID").unwrap();
        // References resolved, CR LF and lone CR read as LF; in attributes, tab and line end a space.
        assert_eq!(doc.string_value(id), "A <AB> B\nC\nD");
        assert_eq!(doc.attr(id, "schemeID"), Some("a&b c d"));
        let note = doc.child(root, NS_CBC, "Note").unwrap();
        assert_eq!(doc.string_value(note), "x < y\n&tail");
        assert_eq!(doc.children(note).count(), 1);
        // One name, two prefixes: each element keeps the one it was written with.
        let party = doc.child(root, NS_CAC, "Party").unwrap();
        let ids: Vec<NodeId> = doc.children_named(party, NS_CBC, "ID").collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(doc.qualified_name(ids[0]), "x:ID");
        assert_eq!(doc.qualified_name(ids[1]), "cbc:ID");
        assert_eq!(doc.path(ids[0]), "/Invoice/cac:Party/x:ID[1]");
        let lang = doc.attributes(ids[0]).next().unwrap();
        assert_eq!(&*doc.names()[lang.0].ns, NS_XML);
        // A default namespace declared inside applies there only.
        let inner = doc.elements(root).find(|e| doc.local_name(*e) == "Inner").unwrap();
        assert_eq!(doc.namespace(inner), "urn:other");
        let deep = doc.elements(inner).next().unwrap();
        assert_eq!(doc.namespace(deep), "urn:other");
        assert_eq!(doc.attr(deep, "b"), Some("2"));
        let back = doc.elements(root).find(|e| doc.local_name(*e) == "Back").unwrap();
        assert_eq!(doc.namespace(back), NS_INVOICE);
        // Indentation shared between nodes still grows on its own when a reference follows it.
        let last = doc.children(root).last().unwrap();
        assert_eq!(doc.text_content(last), "\n  \n  &\n");
    }

    #[test]
    fn indentation_with_crlf_line_ends_is_stored_once() {
        let lines = "\r\n  <b>x</b>".repeat(50);
        let s = format!("<a>{lines}\r\n</a>");
        assert!(check_same(&s));
        let doc = parse(&s).unwrap();
        assert_eq!(doc.text_content(NodeId(2)), "\n  ");
        assert_eq!(doc.string_value(doc.root()), "\n  x".repeat(50) + "\n");
        // "\n  ", "\n", the name `a` and `b`, fifty `x`.
        assert_eq!(doc.buf.len(), 3 + 1 + 1 + 1 + 50);
    }

    #[test]
    fn fast_reader_leaves_what_it_does_not_know_to_the_general_one() {
        for s in [
            "<a>&e;</a>",
            "<a>a & b</a>",
            "<a><b></a>",
            "<a b='1' b='2'/>",
            "<a b='1'c='2'/>",
            "<p:a/>",
            "<a xmlns:p=''/>",
            "<a xmlns=''/>",
            "<a>&#0;</a>",
            "<a>&#xD800;</a>",
            "<a><!-- a -- b --></a>",
            "<a><?pi x?></a>",
            "<a/><b/>",
            "<a/>x",
            "<a></a\u{a0}>",
            "<a:b:c/>",
            "<\u{e9}/>",
            "<?xml version='1.0' encoding='latin1'?><a/>",
            "<!DOCTYPE a><a/>",
        ] {
            assert!(!check_same(s), "the fast reader should leave {s:?} to the general one");
        }
    }

    #[test]
    fn fast_reader_reads_the_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/ubl");
        let mut read = 0;
        for set in ["valid", "invalid"] {
            let Ok(entries) = std::fs::read_dir(dir.join(set)) else { continue };
            for entry in entries.flatten() {
                let bytes = std::fs::read(entry.path()).unwrap();
                let text =
                    std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).unwrap();
                assert!(check_same(text), "{} went to the general reader", entry.path().display());
                read += 1;
            }
        }
        eprintln!("{read} corpus files read by the fast reader");
    }

    /// Small edits of a sample with every feature: wherever the fast reader still accepts the text,
    /// it builds the general reader's tree, and `parse` always answers as the general reader does.
    #[test]
    fn fast_reader_agrees_on_mutated_files() {
        const PIECES: &[&str] = &[
            "<", ">", "/", "&", ";", "\"", "'", "=", " ", "\r", "\n", ":", "!", "?", "-", "]]>", "x", "&#",
            "é",
        ];
        let base = FEATURES.as_bytes();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut fast_count, mut total) = (0, 0);
        for _ in 0..20_000 {
            let mut v = base.to_vec();
            for _ in 0..1 + next(3) {
                let at = next(v.len() + 1);
                match next(3) {
                    0 if at < v.len() => {
                        v.remove(at);
                    }
                    1 => {
                        let piece = PIECES[next(PIECES.len())].as_bytes();
                        v.splice(at..at, piece.iter().copied());
                    }
                    _ => {
                        let end = (at + next(12)).min(v.len());
                        let copy = v[at..end].to_vec();
                        let to = next(v.len() + 1);
                        v.splice(to..to, copy);
                    }
                }
            }
            let Ok(s) = std::str::from_utf8(&v) else { continue };
            total += 1;
            fast_count += usize::from(check_same(s));
        }
        eprintln!("{fast_count} of {total} mutated files read by the fast reader");
        assert!(fast_count > total / 10);
    }
}
