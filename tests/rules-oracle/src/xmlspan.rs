//! A byte-span index of the elements of an XML document (built with quick-xml), and
//! text edits that keep the document well-formed.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

pub const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
pub const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
pub const NS_EXT: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2";

#[derive(Debug, Clone)]
pub struct El {
    /// Qualified name as written.
    pub qname: String,
    pub ns: String,
    pub local: String,
    /// Offset of `<` of the start tag.
    pub start: usize,
    /// Offset just after the `>` of the start tag.
    pub start_tag_end: usize,
    /// Offset of `<` of the end tag (== `start_tag_end` for `<x/>`).
    pub end_tag_start: usize,
    /// Offset just after the element.
    pub end: usize,
    pub self_closing: bool,
    pub children: Vec<usize>,
    /// Normalised path from the document element (excluded): `/cac:A/cbc:B`, with
    /// `cac:CreditNoteLine` written `LINE` (also `cac:InvoiceLine`), the line quantity
    /// `QTY` and the document type code `TYPECODE`.
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub name: String,
    /// Offset of the whitespace before the attribute name.
    pub start: usize,
    pub value_start: usize,
    pub value_end: usize,
    /// Offset after the closing quote.
    pub end: usize,
}

pub struct Doc<'a> {
    pub src: &'a str,
    pub els: Vec<El>,
    /// Namespace declarations on the document element: (prefix, uri); prefix "" = default.
    pub root_ns: Vec<(String, String)>,
}

fn short_name(ns: &str, local: &str) -> String {
    match ns {
        NS_CBC => match local {
            "InvoicedQuantity" | "CreditedQuantity" => "QTY".to_string(),
            "InvoiceTypeCode" | "CreditNoteTypeCode" => "TYPECODE".to_string(),
            _ => format!("cbc:{local}"),
        },
        NS_CAC => match local {
            "InvoiceLine" | "CreditNoteLine" => "LINE".to_string(),
            _ => format!("cac:{local}"),
        },
        NS_EXT => format!("ext:{local}"),
        _ => format!("{{{ns}}}{local}"),
    }
}

impl<'a> Doc<'a> {
    pub fn parse(src: &'a str) -> Result<Self, String> {
        let mut reader = NsReader::from_str(src);
        let mut els: Vec<El> = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let mut root_ns = Vec::new();
        loop {
            let before = reader.buffer_position() as usize;
            let (res, ev) = reader.read_resolved_event().map_err(|e| e.to_string())?;
            let ns = match &res {
                ResolveResult::Bound(n) => n.as_ref().to_string(),
                _ => String::new(),
            };
            let after = reader.buffer_position() as usize;
            match ev {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let self_closing = matches!(ev, Event::Empty(_));
                    let qname = e.name().as_ref().to_string();
                    let local = e.local_name().as_ref().to_string();
                    if els.is_empty() {
                        for a in e.attributes().with_checks(false).flatten() {
                            let key = a.key.as_ref().to_string();
                            let val = a.value.to_string();
                            if key == "xmlns" {
                                root_ns.push((String::new(), val));
                            } else if let Some(p) = key.strip_prefix("xmlns:") {
                                root_ns.push((p.to_string(), val));
                            }
                        }
                    }
                    let parent = stack.last().copied();
                    let path = match parent {
                        None => String::new(),
                        Some(p) => format!("{}/{}", els[p].path, short_name(&ns, &local)),
                    };
                    let idx = els.len();
                    els.push(El {
                        qname,
                        ns,
                        local,
                        start: before,
                        start_tag_end: after,
                        end_tag_start: after,
                        end: after,
                        self_closing,
                        children: Vec::new(),
                        path,
                    });
                    if let Some(p) = parent {
                        els[p].children.push(idx);
                    }
                    if !self_closing {
                        stack.push(idx);
                    }
                }
                Event::End(_) => {
                    let idx = stack.pop().ok_or("unbalanced end tag")?;
                    els[idx].end_tag_start = before;
                    els[idx].end = after;
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if els.is_empty() || !stack.is_empty() {
            return Err("no document element or unclosed element".into());
        }
        Ok(Doc { src, els, root_ns })
    }

    /// Elements whose normalised path matches `pattern`: a pattern starting with `/` is
    /// anchored at the document element, otherwise it matches a path suffix on a step
    /// boundary.
    pub fn find(&self, pattern: &str) -> Vec<usize> {
        self.els
            .iter()
            .enumerate()
            .filter(|(i, el)| {
                *i != 0
                    && if pattern.starts_with('/') {
                        el.path == pattern
                    } else {
                        el.path.ends_with(pattern) && el.path[..el.path.len() - pattern.len()].ends_with('/')
                    }
            })
            .map(|(i, _)| i)
            .collect()
    }

    pub fn first(&self, pattern: &str) -> Option<usize> {
        self.find(pattern).into_iter().next()
    }

    /// Raw content between the tags (empty for `<x/>`).
    pub fn inner(&self, i: usize) -> &str {
        &self.src[self.els[i].start_tag_end..self.els[i].end_tag_start]
    }

    /// Text of a leaf element (no child elements); `None` for elements with children.
    pub fn text(&self, i: usize) -> Option<&str> {
        self.els[i].children.is_empty().then(|| self.inner(i))
    }

    pub fn attrs(&self, i: usize) -> Vec<Attr> {
        let el = &self.els[i];
        let tag = &self.src[el.start..el.start_tag_end];
        let b = tag.as_bytes();
        let mut out = Vec::new();
        let mut p = 1 + el.qname.len();
        loop {
            let ws_start = p;
            while p < b.len() && b[p].is_ascii_whitespace() {
                p += 1;
            }
            if p >= b.len() || b[p] == b'>' || b[p] == b'/' {
                break;
            }
            let name_start = p;
            while p < b.len() && b[p] != b'=' && !b[p].is_ascii_whitespace() {
                p += 1;
            }
            let name = tag[name_start..p].to_string();
            while p < b.len() && (b[p] == b'=' || b[p].is_ascii_whitespace()) {
                p += 1;
            }
            if p >= b.len() {
                break;
            }
            let q = b[p];
            let value_start = p + 1;
            p = value_start;
            while p < b.len() && b[p] != q {
                p += 1;
            }
            let value_end = p;
            p += 1;
            out.push(Attr {
                name,
                start: el.start + ws_start,
                value_start: el.start + value_start,
                value_end: el.start + value_end,
                end: el.start + p,
            });
        }
        out
    }

    pub fn attr(&self, i: usize, name: &str) -> Option<Attr> {
        self.attrs(i).into_iter().find(|a| a.name == name)
    }

    /// Qualified name to use for a new element in `ns` at the position of element `near`:
    /// the prefix of an existing element of that namespace if the document element
    /// declares it; `None` when a local `xmlns` declaration is needed.
    pub fn prefix_for(&self, ns: &str) -> Option<String> {
        self.root_ns.iter().find(|(p, u)| u == ns && !p.is_empty()).map(|(p, _)| p.clone())
    }

    /// A new element `<local>text</local>` in namespace `ns`.
    pub fn new_element(&self, ns: &str, local: &str, text: &str) -> String {
        match self.prefix_for(ns) {
            Some(p) => format!("<{p}:{local}>{}</{p}:{local}>", escape(text)),
            None => format!("<{local} xmlns=\"{ns}\">{}</{local}>", escape(text)),
        }
    }

    /// Whitespace (indentation) directly before element `i`.
    pub fn indent_before(&self, i: usize) -> &str {
        let s = &self.src[..self.els[i].start];
        let trimmed = s.trim_end_matches([' ', '\t', '\r', '\n']);
        &s[trimmed.len()..]
    }
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A set of non-overlapping replacements of byte ranges.
#[derive(Default)]
pub struct Edit {
    parts: Vec<(usize, usize, String)>,
}

impl Edit {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn replace(mut self, start: usize, end: usize, with: impl Into<String>) -> Self {
        self.parts.push((start, end, with.into()));
        self
    }

    /// Both edits (they must not overlap).
    pub fn and(mut self, other: Edit) -> Self {
        self.parts.extend(other.parts);
        self
    }

    pub fn apply(mut self, src: &str) -> Option<String> {
        self.parts.sort_by_key(|p| (p.0, p.1));
        let mut out = String::with_capacity(src.len() + 256);
        let mut pos = 0;
        for (s, e, w) in &self.parts {
            if *s < pos || *e < *s || *e > src.len() {
                return None;
            }
            out.push_str(&src[pos..*s]);
            out.push_str(w);
            pos = *e;
        }
        out.push_str(&src[pos..]);
        Some(out)
    }
}

impl Doc<'_> {
    /// Removes element `i` with the whitespace before it.
    pub fn remove(&self, i: usize) -> Edit {
        let start = self.els[i].start - self.indent_before(i).len();
        Edit::new().replace(start, self.els[i].end, "")
    }

    /// Replaces the content of element `i` by `text` (escaped).
    pub fn set_text(&self, i: usize, text: &str) -> Edit {
        let el = &self.els[i];
        if el.self_closing {
            let open = &self.src[el.start..el.end - 2];
            Edit::new().replace(
                el.start,
                el.end,
                format!("{}>{}</{}>", open.trim_end(), escape(text), el.qname),
            )
        } else {
            Edit::new().replace(el.start_tag_end, el.end_tag_start, escape(text))
        }
    }

    /// Inserts a copy of element `i` right after it.
    pub fn duplicate(&self, i: usize) -> Edit {
        let el = &self.els[i];
        let copy = format!("{}{}", self.indent_before(i), &self.src[el.start..el.end]);
        Edit::new().replace(el.end, el.end, copy)
    }

    /// Inserts `xml` right before element `i`, with the same indentation.
    pub fn insert_before(&self, i: usize, xml: &str) -> Edit {
        let el = &self.els[i];
        let indent = self.indent_before(i);
        let at = el.start - indent.len();
        Edit::new().replace(at, at, format!("{indent}{xml}"))
    }

    /// Inserts `xml` right after element `i`, with the same indentation.
    pub fn insert_after(&self, i: usize, xml: &str) -> Edit {
        let el = &self.els[i];
        Edit::new().replace(el.end, el.end, format!("{}{xml}", self.indent_before(i)))
    }

    pub fn set_attr(&self, i: usize, name: &str, value: &str) -> Option<Edit> {
        let a = self.attr(i, name)?;
        Some(Edit::new().replace(
            a.value_start,
            a.value_end,
            value.replace('"', "&quot;").replace('\'', "&apos;"),
        ))
    }

    pub fn remove_attr(&self, i: usize, name: &str) -> Option<Edit> {
        let a = self.attr(i, name)?;
        Some(Edit::new().replace(a.start, a.end, ""))
    }
}
