//! A small owned XML element, its serializer, and an incremental parser for XMPP streams.
//!
//! Signal parses every client and component stream with [`StreamParser`]; the bus client
//! ([`crate::bus`]) uses it for the component stream. The parser is push-based and sans-IO:
//! feed bytes with [`StreamParser::handle_bytes`], pull [`StreamEvent`]s with
//! [`StreamParser::poll_event`] (`Ok(None)` = need more bytes).
//!
//! It must never expand entities or read a DTD: `<!DOCTYPE`, comments, processing
//! instructions and unknown entities are refused (an XML bomb costs nothing), and one stanza
//! may not grow past [`ParserLimits::max_stanza_bytes`] nor nest deeper than
//! [`ParserLimits::max_depth`]. Only the five predefined entities and character references
//! are understood.
//!
//! Namespaces are resolved while parsing: an [`Element`] carries its namespace URI, never a
//! prefix. Unprefixed attributes keep their plain name; `xml:` attributes (`xml:lang`) keep
//! their qualified name; other prefixed attributes are kept when parsed but not written back
//! (their prefix declaration is gone, and XMPP does not use them). Top-level stanzas of a component stream (`jabber:component:accept`)
//! can be mapped to `jabber:client` ([`ParserLimits::component_as_client`]), so signal and
//! components see one stanza namespace everywhere.

use std::fmt;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `jabber:client`, the namespace of stanzas on client streams (and, internally, everywhere).
pub const NS_CLIENT: &str = "jabber:client";
/// `jabber:component:accept`, the stanza namespace of XEP-0114 component streams.
pub const NS_COMPONENT: &str = "jabber:component:accept";
/// `http://etherx.jabber.org/streams`, the namespace of `<stream:stream>` and friends.
pub const NS_STREAM: &str = "http://etherx.jabber.org/streams";
/// RFC 7395 framing (`<open/>`, `<close/>` on WebSocket).
pub const NS_FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";

/// A child of an element: another element or a piece of character data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// An owned XML element with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    name: String,
    ns: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Element {
    /// A new element `name` in namespace `ns` (`""` for none).
    pub fn new(name: impl Into<String>, ns: impl Into<String>) -> Self {
        Element { name: name.into(), ns: ns.into(), attrs: Vec::new(), children: Vec::new() }
    }

    /// Builder: sets attribute `name` (replacing an earlier value).
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_attr(name, value);
        self
    }

    /// Builder: appends a child element.
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: appends character data.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.append_text(text);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// True when this is `name` in namespace `ns`.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns == ns
    }

    pub fn set_ns(&mut self, ns: impl Into<String>) {
        self.ns = ns.into();
    }

    pub fn get_attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn set_attr(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.attrs.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name, value)),
        }
    }

    pub fn remove_attr(&mut self, name: &str) -> Option<String> {
        let pos = self.attrs.iter().position(|(k, _)| k == name)?;
        Some(self.attrs.remove(pos).1)
    }

    pub fn attrs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attrs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn nodes(&self) -> &[Node] {
        &self.children
    }

    /// The child elements, in document order.
    pub fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child `name` in namespace `ns`.
    pub fn get_child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children().find(|e| e.is(name, ns))
    }

    pub fn get_child_mut(&mut self, name: &str, ns: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.is(name, ns) => Some(e),
            _ => None,
        })
    }

    /// The first child element, whatever its name (the payload of an IQ).
    pub fn first_child(&self) -> Option<&Element> {
        self.children().next()
    }

    pub fn append_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    pub fn append_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        match self.children.last_mut() {
            Some(Node::Text(t)) => t.push_str(&text),
            _ => self.children.push(Node::Text(text)),
        }
    }

    /// Removes the children for which `remove` says true.
    pub fn remove_children(&mut self, mut remove: impl FnMut(&Element) -> bool) {
        self.children.retain(|n| match n {
            Node::Element(e) => !remove(e),
            Node::Text(_) => true,
        });
    }

    /// Removes all children.
    pub fn clear_children(&mut self) {
        self.children.clear();
    }

    /// The concatenated character data directly inside this element.
    pub fn text_content(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// Serializes as if inside a parent whose default namespace is `parent_ns`: `xmlns` is
    /// written only where an element's namespace differs from the one in scope.
    pub fn write_to(&self, out: &mut String, parent_ns: &str) {
        self.write_head(out, parent_ns, None);
        self.write_tail(out);
    }

    /// Serializes as a top-level stanza of a stream whose stanza namespace is `jabber:client`
    /// (client streams, and component streams where the receiver maps the namespace back).
    pub fn to_stanza_string(&self) -> String {
        let mut s = String::with_capacity(128);
        self.write_to(&mut s, NS_CLIENT);
        s
    }

    /// Writes `<name [xmlns] [extra attrs] attrs` (without closing `>`).
    fn write_head(&self, out: &mut String, parent_ns: &str, skip_attr: Option<&str>) {
        out.push('<');
        out.push_str(&self.name);
        if self.ns != parent_ns {
            out.push_str(" xmlns=\"");
            escape_into(out, &self.ns, true);
            out.push('"');
        }
        for (k, v) in &self.attrs {
            // A prefixed attribute other than xml:* lost its prefix declaration when parsed;
            // writing it would make the output ill-formed, so it is dropped.
            if Some(k.as_str()) == skip_attr || k == "xmlns" || (k.contains(':') && !k.starts_with("xml:")) {
                continue;
            }
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_into(out, v, true);
            out.push('"');
        }
    }

    /// Writes `>children</name>` or `/>`.
    fn write_tail(&self, out: &mut String) {
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for n in &self.children {
            match n {
                Node::Element(e) => e.write_to(out, &self.ns),
                Node::Text(t) => escape_into(out, t, false),
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// Serializes this top-level stanza once, without its `to` attribute, for sending to many
    /// recipients: see [`Prepared`].
    pub fn prepare(&self) -> Prepared {
        let mut rest = String::with_capacity(128);
        let mut head = String::new();
        self.write_head(&mut head, NS_CLIENT, Some("to"));
        // head = "<name attrs…", written just above; keep everything after "<name"
        rest.push_str(&head[1 + self.name.len()..]);
        self.write_tail(&mut rest);
        Prepared { name: self.name.clone(), rest, client_ns: self.ns == NS_CLIENT }
    }
}

/// A top-level stanza serialized once, with the `to` attribute left out, so one broadcast is
/// serialized once and only the recipient differs per copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    name: String,
    rest: String,
    /// The top element is in `jabber:client` (so `rest` carries no `xmlns` of its own).
    client_ns: bool,
}

impl Prepared {
    /// Writes the stanza addressed to `to` (`None`: no `to` attribute). With `xmlns_client`
    /// the top element carries `xmlns="jabber:client"` (each RFC 7395 WebSocket frame is a
    /// document of its own).
    pub fn write_to(&self, out: &mut String, to: Option<&str>, xmlns_client: bool) {
        out.push('<');
        out.push_str(&self.name);
        if xmlns_client && self.client_ns {
            out.push_str(" xmlns=\"jabber:client\"");
        }
        if let Some(to) = to {
            out.push_str(" to=\"");
            escape_into(out, to, true);
            out.push('"');
        }
        out.push_str(&self.rest);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Serialized length without `to`.
    pub fn len(&self) -> usize {
        self.name.len() + self.rest.len() + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for Element {
    /// Serializes as a standalone document: the top element always names its namespace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s, "\u{0}");
        f.write_str(&s)
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Escapes `s` for character data (or a double-quoted attribute value with `attr`); chars
/// that XML 1.0 cannot carry become U+FFFD, so the output is always well-formed.
pub fn escape_into(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\'' if attr => out.push_str("&apos;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attr => out.push_str("&#9;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// Escapes `s` for character data or an attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s, true);
    out
}

/// Why a stream could not be parsed. Each maps to one RFC 6120 stream error condition
/// ([`XmlError::condition`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("not well-formed XML: {0}")]
    NotWellFormed(String),
    #[error("restricted XML ({0}) is not allowed in XMPP")]
    Restricted(&'static str),
    #[error("stanza larger than {0} bytes")]
    TooBig(usize),
    #[error("elements nested deeper than {0}")]
    TooDeep(usize),
    #[error("undeclared namespace prefix {0:?}")]
    BadPrefix(String),
    #[error("invalid stream header: {0}")]
    BadStreamHeader(String),
}

impl XmlError {
    /// The RFC 6120 stream error condition to answer with.
    pub fn condition(&self) -> &'static str {
        match self {
            XmlError::NotWellFormed(_) => "not-well-formed",
            XmlError::Restricted(_) => "restricted-xml",
            XmlError::TooBig(_) => "policy-violation",
            XmlError::TooDeep(_) => "policy-violation",
            XmlError::BadPrefix(_) => "bad-namespace-prefix",
            XmlError::BadStreamHeader(_) => "invalid-namespace",
        }
    }
}

/// Limits and mode of a [`StreamParser`].
#[derive(Debug, Clone)]
pub struct ParserLimits {
    /// Largest stanza (bytes of its XML text, from `<` to its end tag).
    pub max_stanza_bytes: usize,
    /// Deepest nesting inside one stanza.
    pub max_depth: usize,
    /// Map the namespace `jabber:component:accept` to `jabber:client` (component streams).
    pub component_as_client: bool,
    /// No `<stream:stream>` wrapper: every top-level element is a stanza of its own
    /// (RFC 7395 WebSocket frames, or parsing a single element). Unprefixed elements without
    /// `xmlns` are then in namespace `default_ns`.
    pub fragments: bool,
    pub default_ns: String,
}

impl Default for ParserLimits {
    fn default() -> Self {
        ParserLimits {
            max_stanza_bytes: 64 * 1024,
            max_depth: 64,
            component_as_client: false,
            fragments: false,
            default_ns: String::new(),
        }
    }
}

/// What the parser found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// `<stream:stream …>` (or a new one after a stream restart): the header element with its
    /// attributes, no children.
    Open(Element),
    /// One complete top-level stanza (or, in fragment mode, one complete element).
    Stanza(Element),
    /// `</stream:stream>`.
    Close,
}

/// Incremental XMPP stream parser: see the module doc.
pub struct StreamParser {
    limits: ParserLimits,
    buf: Vec<u8>,
    /// Bytes of `buf` already turned into events; never more than `buf.len()`: it grows only by
    /// what a reader consumed from `buf[committed..]`, and is reset to 0 when they are dropped.
    committed: usize,
    /// Bytes dropped from the front of `buf` so far (positions below are absolute).
    dropped: usize,
    /// Absolute offset where the stanza being built started.
    stanza_start: Option<usize>,
    /// The open elements of the stanza being built (innermost last).
    stack: Vec<Element>,
    /// Namespace scopes: (prefix or "" for default, uri), with one mark per open element.
    scopes: Vec<(String, String)>,
    scope_marks: Vec<usize>,
    stream_open: bool,
    seen_decl_or_header: bool,
    failed: Option<XmlError>,
    /// After an unclosed tag: do not parse again before what can end it has arrived (keeps a
    /// huge tag sent byte by byte linear, not quadratic).
    wait: Option<Wait>,
    /// How many times the pending bytes were handed to quick-xml (tests check it stays
    /// proportional to the events, not to the pieces the bytes came in).
    parses: u64,
}

/// What an unclosed markup waits for, and how far the bytes were already looked at.
#[derive(Debug, Clone, Copy)]
struct Wait {
    kind: WaitKind,
    /// Absolute offset of the first byte not looked at yet.
    from: usize,
    /// In a tag: the quote of the attribute value the bytes looked at end in (a `>` inside
    /// quotes does not end the tag; without this, `<a b='` followed by `>` after `>` one
    /// byte at a time parsed the whole tag again for each: found by fuzz/xml_component_stream
    /// as a timeout with `<?xml` and many `>`).
    quote: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitKind {
    /// A start tag (or `<!` markup): a `>` outside attribute values.
    Tag,
    /// An end tag: any `>`.
    EndTag,
    /// `<?…`: `?>`.
    Pi,
    /// `<![CDATA[…`: `]]>`.
    CData,
}

impl Wait {
    /// Looks at `bytes` (the buffer from absolute offset `start`) past what was looked at;
    /// true when the terminator is there, else remembers how far it got.
    fn arrived(&mut self, bytes: &[u8], start: usize) -> bool {
        let end = start + bytes.len();
        let (back, term): (usize, &[u8]) = match self.kind {
            WaitKind::Tag | WaitKind::EndTag => (0, b">"),
            WaitKind::Pi => (1, b"?>"),
            WaitKind::CData => (2, b"]]>"),
        };
        // A terminator may straddle what was looked at and what is new.
        let from = self.from.saturating_sub(back).max(start).min(end);
        let new = &bytes[from - start..];
        if self.kind == WaitKind::Tag {
            for &b in new {
                match (self.quote, b) {
                    (None, b'>') => return true,
                    (None, b'"' | b'\'') => self.quote = Some(b),
                    (Some(q), b) if b == q => self.quote = None,
                    _ => {}
                }
            }
        } else if new.windows(term.len()).any(|w| w == term) {
            return true;
        }
        self.from = end;
        false
    }
}

enum Step {
    NeedMore,
    Event(StreamEvent),
}

impl StreamParser {
    pub fn new(limits: ParserLimits) -> Self {
        let mut p = StreamParser {
            limits,
            buf: Vec::new(),
            committed: 0,
            dropped: 0,
            stanza_start: None,
            stack: Vec::new(),
            scopes: Vec::new(),
            scope_marks: Vec::new(),
            stream_open: false,
            seen_decl_or_header: false,
            failed: None,
            wait: None,
            parses: 0,
        };
        p.reset_scopes();
        p
    }

    fn reset_scopes(&mut self) {
        self.scopes.clear();
        self.scope_marks.clear();
        self.scopes.push(("xml".into(), "http://www.w3.org/XML/1998/namespace".into()));
        self.scopes.push((String::new(), self.limits.default_ns.clone()));
    }

    /// Stream restart (after SASL success): the next thing expected is a new stream header.
    /// Bytes already received but not yet parsed are kept.
    pub fn reset(&mut self) {
        self.stack.clear();
        self.stanza_start = None;
        self.stream_open = false;
        self.seen_decl_or_header = false;
        self.wait = None;
        self.reset_scopes();
    }

    /// Feeds received bytes.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.committed > 0 && self.committed == self.buf.len() {
            self.dropped += self.buf.len();
            self.buf.clear();
            self.committed = 0;
            if self.buf.capacity() > 64 * 1024 {
                self.buf.shrink_to(8 * 1024);
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of an event.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len() - self.committed
    }

    /// The next event, `Ok(None)` when more bytes are needed. After an error the parser stays
    /// failed (a stream with an error is closed).
    pub fn poll_event(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.step() {
            Ok(Step::NeedMore) => {
                self.compact();
                let in_stanza = self.stanza_start.map(|s| self.dropped + self.buf.len() - s).unwrap_or(0);
                if in_stanza > self.limits.max_stanza_bytes || self.pending_bytes() > self.limits.max_stanza_bytes {
                    let e = XmlError::TooBig(self.limits.max_stanza_bytes);
                    self.failed = Some(e.clone());
                    return Err(e);
                }
                Ok(None)
            }
            Ok(Step::Event(ev)) => Ok(Some(ev)),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Drops consumed bytes from the front of the buffer.
    fn compact(&mut self) {
        let n = self.committed;
        if n > 0 && (n * 2 >= self.buf.len() || n > 16 * 1024) {
            self.buf.drain(..n);
            self.committed = 0;
            self.dropped += n;
        }
    }

    fn depth(&self) -> usize {
        self.stack.len()
    }

    fn step(&mut self) -> Result<Step, XmlError> {
        if let Some(mut wait) = self.wait.take() {
            if !wait.arrived(&self.buf, self.dropped) {
                self.wait = Some(wait);
                return Ok(Step::NeedMore);
            }
        }
        // The buffer is moved out while events borrowing it are applied to `self`.
        let buf = std::mem::take(&mut self.buf);
        self.parses += 1;
        let r = self.step_in(&buf);
        self.buf = buf;
        r
    }

    fn step_in(&mut self, buf: &[u8]) -> Result<Step, XmlError> {
        use quick_xml::events::Event;
        loop {
            // committed <= buf.len(): see the field
            let slice = &buf[self.committed..];
            if slice.is_empty() {
                return Ok(Step::NeedMore);
            }
            if slice.starts_with(UTF8_BOM) {
                // quick-xml drops a BOM at the start of its input without counting it in
                // `buffer_position`; a reader starts at every event here, so a U+FEFF in text
                // was lost and the three bytes after it read twice (found by
                // fuzz/xml_client_stream). Only the stream's first bytes can be a byte order
                // mark; anywhere else it is character data.
                self.committed += UTF8_BOM.len();
                if self.dropped + self.committed != UTF8_BOM.len() {
                    self.add_text("\u{feff}")?;
                }
                continue;
            }
            let mut reader = quick_xml::Reader::from_reader(slice);
            {
                let c = reader.config_mut();
                c.check_end_names = false;
                c.expand_empty_elements = false;
                c.trim_text(false);
                c.allow_dangling_amp = false;
                // A fresh reader starts mid-document; this parser matches end tags itself.
                c.allow_unmatched_ends = true;
            }
            let ev = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => return self.read_error(e, slice),
            };
            let end = reader.buffer_position() as usize;
            let at = self.dropped + self.committed;
            match ev {
                Event::Eof => return Ok(Step::NeedMore),
                Event::Text(t) => {
                    let bytes: &[u8] = &t;
                    let mut take = end;
                    if end >= slice.len() {
                        // The text may go on in the next bytes: take the whole characters we
                        // have (so a long text sent in pieces is scanned once), keep the rest.
                        if bytes.len() != end {
                            return Ok(Step::NeedMore);
                        }
                        take = match std::str::from_utf8(bytes) {
                            Ok(_) => bytes.len(),
                            Err(e) if e.error_len().is_none() => e.valid_up_to(),
                            Err(_) => return Err(XmlError::NotWellFormed("invalid UTF-8".into())),
                        };
                        if take == 0 {
                            return Ok(Step::NeedMore);
                        }
                    }
                    let s = std::str::from_utf8(&bytes[..take.min(bytes.len())])
                        .map_err(|_| XmlError::NotWellFormed("invalid UTF-8".into()))?;
                    check_chars(s)?;
                    let s = s.to_string();
                    self.committed += take;
                    self.add_text(&s)?;
                }
                Event::CData(t) => {
                    let s = std::str::from_utf8(&t).map_err(|_| XmlError::NotWellFormed("invalid UTF-8".into()))?;
                    check_chars(s)?;
                    let s = s.to_string();
                    self.committed += end;
                    self.add_text(&s)?;
                }
                Event::GeneralRef(r) => {
                    let ch = resolve_ref(&r)?;
                    self.committed += end;
                    self.add_text(ch.encode_utf8(&mut [0u8; 4]))?;
                }
                Event::Start(s) => {
                    let el = self.open_element(&s, at)?;
                    self.committed += end;
                    if let Some(ev) = self.push_open(el, false)? {
                        return Ok(Step::Event(ev));
                    }
                }
                Event::Empty(s) => {
                    let el = self.open_element(&s, at)?;
                    self.committed += end;
                    if let Some(ev) = self.push_open(el, true)? {
                        return Ok(Step::Event(ev));
                    }
                }
                Event::End(e) => {
                    let name = std::str::from_utf8(e.name().as_ref())
                        .map_err(|_| XmlError::NotWellFormed("invalid UTF-8 in name".into()))?
                        .to_string();
                    self.committed += end;
                    if let Some(ev) = self.close_element(&name)? {
                        return Ok(Step::Event(ev));
                    }
                }
                Event::Decl(_) => {
                    if self.seen_decl_or_header || self.depth() > 0 || self.limits.fragments {
                        return Err(XmlError::Restricted("XML declaration inside the stream"));
                    }
                    self.seen_decl_or_header = true;
                    self.committed += end;
                }
                Event::DocType(_) => return Err(XmlError::Restricted("DTD")),
                Event::Comment(_) => return Err(XmlError::Restricted("comment")),
                Event::PI(_) => return Err(XmlError::Restricted("processing instruction")),
            }
        }
    }

    fn read_error(&mut self, e: quick_xml::Error, slice: &[u8]) -> Result<Step, XmlError> {
        use quick_xml::errors::{IllFormedError, SyntaxError};
        match e {
            quick_xml::Error::Syntax(SyntaxError::UnclosedDoctype) => Err(XmlError::Restricted("DTD")),
            quick_xml::Error::Syntax(SyntaxError::UnclosedComment) => Err(XmlError::Restricted("comment")),
            quick_xml::Error::Syntax(
                SyntaxError::UnclosedTag
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedPIOrXmlDecl
                | SyntaxError::InvalidBangMarkup,
            ) => {
                // `<!` + a few bytes could still become a DOCTYPE or comment: refuse early.
                if let Some(pos) = slice.iter().position(|b| *b == b'<') {
                    let rest = &slice[pos..];
                    if rest.len() >= 3 && rest.starts_with(b"<!") && !b"[-D"[..].contains(&rest[2]) {
                        return Err(XmlError::NotWellFormed("unknown markup after <!".into()));
                    }
                    if rest.starts_with(b"<!D") || rest.starts_with(b"<!d") {
                        return Err(XmlError::Restricted("DTD"));
                    }
                    if rest.starts_with(b"<!-") {
                        return Err(XmlError::Restricted("comment"));
                    }
                    if rest.starts_with(b"<?") && (self.seen_decl_or_header || self.depth() > 0) {
                        return Err(XmlError::Restricted("processing instruction"));
                    }
                }
                // Wait for what can end the markup, looking at its bytes once: from its `<`
                // (quotes count from there), or from here when it is not in sight.
                let start = slice.iter().position(|b| *b == b'<');
                let rest = start.map_or(&[][..], |p| &slice[p..]);
                let kind = if rest.starts_with(b"</") {
                    WaitKind::EndTag
                } else if rest.starts_with(b"<?") {
                    WaitKind::Pi
                } else if rest.starts_with(b"<![CDATA[") {
                    WaitKind::CData
                } else {
                    WaitKind::Tag
                };
                let base = self.dropped + self.committed;
                let mut wait = Wait { kind, from: base + start.map_or(slice.len(), |p| p + 1), quote: None };
                if wait.arrived(slice, base) {
                    // quick-xml and this scan disagree: parse again when more bytes come
                    wait.from = base + slice.len();
                    wait.quote = None;
                }
                self.wait = Some(wait);
                Ok(Step::NeedMore)
            }
            quick_xml::Error::IllFormed(IllFormedError::UnclosedReference) => {
                // "&am" at the end of what we have: wait, but only for a plausible entity.
                let tail = slice.iter().rposition(|b| *b == b'&').map_or(&[][..], |amp| &slice[amp + 1..]);
                if tail.len() < 12 && tail.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'#') {
                    Ok(Step::NeedMore)
                } else {
                    Err(XmlError::NotWellFormed("unterminated entity reference".into()))
                }
            }
            other => Err(XmlError::NotWellFormed(other.to_string())),
        }
    }

    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.scopes.iter().rev().find(|(p, _)| p == prefix).map(|(_, u)| u.as_str())
    }

    /// Turns a start tag into an element (namespace resolved), pushing its namespace scope.
    fn open_element(&mut self, s: &quick_xml::events::BytesStart<'_>, at: usize) -> Result<Element, XmlError> {
        let qname = std::str::from_utf8(s.name().as_ref())
            .map_err(|_| XmlError::NotWellFormed("invalid UTF-8 in name".into()))?
            .to_string();
        let mark = self.scopes.len();
        let mut attrs = Vec::new();
        for a in s.attributes() {
            let a = a.map_err(|e| XmlError::NotWellFormed(e.to_string()))?;
            let key = std::str::from_utf8(a.key.as_ref())
                .map_err(|_| XmlError::NotWellFormed("invalid UTF-8 in attribute name".into()))?
                .to_string();
            if !key.split(':').all(is_name) || key.matches(':').count() > 1 {
                return Err(XmlError::NotWellFormed(format!("bad attribute name {key:?}")));
            }
            let value = a.unescape_value().map_err(|e| XmlError::NotWellFormed(e.to_string()))?.into_owned();
            check_chars(&value)?;
            if key == "xmlns" {
                self.scopes.push((String::new(), value));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                if value.is_empty() {
                    return Err(XmlError::BadPrefix(p.into()));
                }
                self.scopes.push((p.to_string(), value));
            } else {
                attrs.push((key, value));
            }
        }
        self.scope_marks.push(mark);
        let (prefix, local) = match qname.split_once(':') {
            Some((p, l)) => (p, l),
            None => ("", qname.as_str()),
        };
        if !is_name(local) || !(prefix.is_empty() || is_name(prefix)) {
            return Err(XmlError::NotWellFormed(format!("bad element name {qname:?}")));
        }
        for (k, _) in &attrs {
            if let Some((p, _)) = k.split_once(':') {
                if self.lookup(p).is_none() {
                    return Err(XmlError::BadPrefix(p.into()));
                }
            }
        }
        let mut ns = match self.lookup(prefix) {
            Some(ns) => ns.to_string(),
            None => return Err(XmlError::BadPrefix(prefix.into())),
        };
        if self.limits.component_as_client && ns == NS_COMPONENT {
            ns = NS_CLIENT.to_string();
        }
        if self.stack.is_empty() && (self.stream_open || self.limits.fragments) {
            self.stanza_start = Some(at);
        }
        Ok(Element { name: local.to_string(), ns, attrs, children: Vec::new() })
    }

    fn pop_scope(&mut self) {
        if let Some(mark) = self.scope_marks.pop() {
            self.scopes.truncate(mark);
        }
    }

    fn push_open(&mut self, el: Element, empty: bool) -> Result<Option<StreamEvent>, XmlError> {
        if !self.stream_open && !self.limits.fragments {
            // The stream header: must be <stream:stream> in the streams namespace.
            if el.name != "stream" || el.ns != NS_STREAM {
                return Err(XmlError::BadStreamHeader(format!("expected <stream:stream>, got <{}>", el.name)));
            }
            if empty {
                return Err(XmlError::BadStreamHeader("empty stream header".into()));
            }
            self.stream_open = true;
            self.seen_decl_or_header = true;
            return Ok(Some(StreamEvent::Open(el)));
        }
        self.seen_decl_or_header = true;
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep(self.limits.max_depth));
        }
        if empty {
            self.pop_scope();
            return self.finish_child(el);
        }
        self.stack.push(el);
        Ok(None)
    }

    /// Attaches a completed element to its parent, or yields it when it is top-level.
    fn finish_child(&mut self, el: Element) -> Result<Option<StreamEvent>, XmlError> {
        match self.stack.last_mut() {
            Some(parent) => {
                parent.children.push(Node::Element(el));
                Ok(None)
            }
            None => {
                let size = self.stanza_start.take().map(|s| self.dropped + self.committed - s).unwrap_or(0);
                if size > self.limits.max_stanza_bytes {
                    return Err(XmlError::TooBig(self.limits.max_stanza_bytes));
                }
                Ok(Some(StreamEvent::Stanza(el)))
            }
        }
    }

    fn close_element(&mut self, qname: &str) -> Result<Option<StreamEvent>, XmlError> {
        let Some(el) = self.stack.pop() else {
            if self.stream_open && !self.limits.fragments {
                let local = qname.rsplit(':').next().unwrap_or(qname);
                let prefix = qname.split_once(':').map(|(p, _)| p).unwrap_or("");
                if local == "stream" && self.lookup(prefix) == Some(NS_STREAM) {
                    self.pop_scope();
                    self.stream_open = false;
                    return Ok(Some(StreamEvent::Close));
                }
            }
            return Err(XmlError::NotWellFormed(format!("unexpected end tag </{qname}>")));
        };
        let local = qname.rsplit(':').next().unwrap_or(qname);
        let prefix = qname.split_once(':').map(|(p, _)| p).unwrap_or("");
        let mut ns = self.lookup(prefix).unwrap_or("").to_string();
        if self.limits.component_as_client && ns == NS_COMPONENT {
            ns = NS_CLIENT.to_string();
        }
        if local != el.name || ns != el.ns {
            return Err(XmlError::NotWellFormed(format!("end tag </{qname}> does not match <{}>", el.name)));
        }
        self.pop_scope();
        self.finish_child(el)
    }

    fn add_text(&mut self, s: &str) -> Result<(), XmlError> {
        match self.stack.last_mut() {
            Some(el) => {
                el.append_text(s);
                Ok(())
            }
            None if s.chars().all(|c| c.is_ascii_whitespace()) => Ok(()),
            None => Err(XmlError::NotWellFormed("character data outside a stanza".into())),
        }
    }
}

/// An XML NCName, approximately: a letter, `_` or non-ASCII first, then also digits, `-`, `.`.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' || !c.is_ascii() => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.') || (!c.is_ascii() && is_xml_char(c)))
}

fn check_chars(s: &str) -> Result<(), XmlError> {
    if let Some(c) = s.chars().find(|c| !is_xml_char(*c)) {
        return Err(XmlError::NotWellFormed(format!("character U+{:04X} is not allowed in XML", c as u32)));
    }
    Ok(())
}

fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Result<char, XmlError> {
    let name = std::str::from_utf8(r).map_err(|_| XmlError::NotWellFormed("invalid UTF-8".into()))?;
    let ch = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ if name.starts_with('#') => match r.resolve_char_ref() {
            Ok(Some(c)) => c,
            _ => return Err(XmlError::NotWellFormed(format!("bad character reference &{name};"))),
        },
        _ => return Err(XmlError::Restricted("entity reference")),
    };
    if !is_xml_char(ch) {
        return Err(XmlError::NotWellFormed(format!("character reference to U+{:04X}", ch as u32)));
    }
    Ok(ch)
}

/// Parses one complete element from `text` (namespaces as written; no default namespace).
pub fn parse_element(text: &str) -> Result<Element, XmlError> {
    let mut p =
        StreamParser::new(ParserLimits { fragments: true, max_stanza_bytes: usize::MAX / 4, ..Default::default() });
    p.handle_bytes(text.as_bytes());
    // A trailing newline lets text end so the parser knows it is complete.
    p.handle_bytes(b"<");
    match p.poll_event()? {
        Some(StreamEvent::Stanza(e)) => Ok(e),
        _ => Err(XmlError::NotWellFormed("no complete element".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_parser() -> StreamParser {
        StreamParser::new(ParserLimits::default())
    }

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='meet.lan' version='1.0'>";

    fn all(p: &mut StreamParser) -> Result<Vec<StreamEvent>, XmlError> {
        let mut v = Vec::new();
        while let Some(e) = p.poll_event()? {
            v.push(e);
        }
        Ok(v)
    }

    /// Markup that waits for its end, fed one byte at a time with many `>` that do not end it:
    /// parsed again only when its end has come (was once per `>`: quadratic, a fuzz timeout).
    #[test]
    fn unclosed_markup_is_not_parsed_again_for_every_gt_that_does_not_end_it() {
        for (open, close, fragments) in [
            ("<message a='", "'/>", true),
            ("<message a=\"", "\"/>", true),
            ("<![CDATA[", "]]>", true),
            ("<?xml version='1.0'", "?>", false),
        ] {
            let mut p = StreamParser::new(ParserLimits { fragments, ..ParserLimits::default() });
            if fragments {
                p.handle_bytes(b"<message>");
                all(&mut p).unwrap();
            }
            let before = p.parses;
            let mut got = Vec::new();
            let text = format!("{open}{}{close}", ">".repeat(20_000));
            for b in text.as_bytes() {
                p.handle_bytes(std::slice::from_ref(b));
                got.extend(all(&mut p).unwrap_or_else(|e| panic!("{open}: {e}")));
            }
            let parses = p.parses - before;
            assert!(parses < 100, "{open}…{close}: {parses} parses for {} bytes", text.len());
        }
    }

    #[test]
    fn stream_header_then_stanzas_byte_by_byte() {
        let text = format!("{HEADER}<message to='a@b' type='chat'><body>x &amp; y &#x263A; <![CDATA[<z>]]></body></message> <iq id='1' type='get'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>");
        let mut p = client_parser();
        let mut events = Vec::new();
        for b in text.as_bytes() {
            p.handle_bytes(std::slice::from_ref(b));
            events.extend(all(&mut p).unwrap());
        }
        assert_eq!(events.len(), 4, "{events:?}");
        let StreamEvent::Open(h) = &events[0] else { panic!() };
        assert_eq!(h.get_attr("to"), Some("meet.lan"));
        let StreamEvent::Stanza(m) = &events[1] else { panic!() };
        assert!(m.is("message", NS_CLIENT));
        assert_eq!(m.get_child("body", NS_CLIENT).unwrap().text_content(), "x & y \u{263A} <z>");
        let StreamEvent::Stanza(iq) = &events[2] else { panic!() };
        assert!(iq.get_child("ping", "urn:xmpp:ping").is_some());
        assert_eq!(events[3], StreamEvent::Close);
    }

    #[test]
    fn refuses_doctype_entities_comments() {
        for bad in [
            "<!DOCTYPE lolz [<!ENTITY lol \"lol\">]>",
            "<message><body>&lol;</body></message>",
            "<!-- hi -->",
            "<?php x?>",
            "<message><body>\u{1}</body></message>",
        ] {
            let mut p = client_parser();
            p.handle_bytes(HEADER.as_bytes());
            p.handle_bytes(bad.as_bytes());
            p.handle_bytes(b" ");
            let r = all(&mut p);
            assert!(r.is_err(), "{bad} was accepted: {r:?}");
        }
        // a DOCTYPE before the header too
        let mut p = client_parser();
        p.handle_bytes(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><stream:stream>");
        assert!(matches!(all(&mut p), Err(XmlError::Restricted(_))));
    }

    #[test]
    fn size_and_depth_limits() {
        let mut p = StreamParser::new(ParserLimits { max_stanza_bytes: 100, ..Default::default() });
        p.handle_bytes(HEADER.as_bytes());
        p.handle_bytes(format!("<message><body>{}", "a".repeat(200)).as_bytes());
        assert_eq!(all(&mut p), Err(XmlError::TooBig(100)));
        let mut p = client_parser();
        p.handle_bytes(HEADER.as_bytes());
        p.handle_bytes("<a>".repeat(100).as_bytes());
        assert!(matches!(all(&mut p), Err(XmlError::TooDeep(_))));
    }

    #[test]
    fn mismatched_tags_and_prefixes() {
        for bad in ["<a></b>", "<x:a/>", "<a x:y='1'/>", "<a b='1' b='2'/>", "hello"] {
            let mut p = client_parser();
            p.handle_bytes(HEADER.as_bytes());
            p.handle_bytes(bad.as_bytes());
            p.handle_bytes(b"<");
            assert!(all(&mut p).is_err(), "{bad}");
        }
    }

    #[test]
    fn component_namespace_maps_to_client_and_back() {
        let mut p = StreamParser::new(ParserLimits { component_as_client: true, ..Default::default() });
        p.handle_bytes(b"<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='focus.meet.lan'><message><body>hi</body></message>");
        let ev = all(&mut p).unwrap();
        let StreamEvent::Stanza(m) = &ev[1] else { panic!() };
        assert!(m.is("message", NS_CLIENT));
        assert!(m.get_child("body", NS_CLIENT).is_some());
        assert_eq!(m.to_stanza_string(), "<message><body>hi</body></message>");
    }

    #[test]
    fn serializer_escapes_and_round_trips() {
        let e = Element::new("message", NS_CLIENT)
            .attr("to", "r@c/n\"'<")
            .child(Element::new("body", NS_CLIENT).text("a<b>&c\u{0}"))
            .child(Element::new("x", "urn:x").attr("k", "v").child(Element::new("y", "urn:x")));
        let s = e.to_string();
        assert_eq!(
            s,
            "<message xmlns=\"jabber:client\" to=\"r@c/n&quot;&apos;&lt;\"><body>a&lt;b&gt;&amp;c\u{FFFD}</body><x xmlns=\"urn:x\" k=\"v\"><y/></x></message>"
        );
        let back = parse_element(&s).unwrap();
        assert_eq!(back.get_attr("to"), Some("r@c/n\"'<"));
        assert_eq!(back.get_child("body", NS_CLIENT).unwrap().text_content(), "a<b>&c\u{FFFD}");
        let mut out = String::new();
        e.prepare().write_to(&mut out, Some("x@y"), true);
        assert!(out.starts_with("<message xmlns=\"jabber:client\" to=\"x@y\"><body>"), "{out}");
    }

    fn rand_u32s(n: usize) -> Vec<u32> {
        let mut b = vec![0u8; n * 4];
        getrandom::fill(&mut b).unwrap();
        b.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }

    /// Poor man's fuzzing (no nightly here): random token soup never panics, and a valid
    /// stream parses the same whatever the chunking.
    #[test]
    fn random_input_never_panics_and_chunking_does_not_matter() {
        let pieces = [
            "<",
            ">",
            "/",
            "'",
            "\"",
            "=",
            "&",
            ";",
            "amp",
            "#x41",
            "<![CDATA[",
            "]]>",
            "<!",
            "<?",
            "?>",
            "xmlns",
            ":",
            "a",
            "b",
            " ",
            "\u{0}",
            "\u{e9}",
            "--",
            "DOCTYPE",
        ];
        for _ in 0..300 {
            let r = rand_u32s(200);
            let text: String = r.iter().map(|x| pieces[*x as usize % pieces.len()]).collect();
            for fragments in [false, true] {
                let mut p = StreamParser::new(ParserLimits { fragments, max_stanza_bytes: 512, ..Default::default() });
                p.handle_bytes(text.as_bytes());
                for _ in 0..1000 {
                    match p.poll_event() {
                        Ok(Some(_)) => continue,
                        _ => break,
                    }
                }
            }
        }
        let doc = format!("{HEADER}<message to='a@b' id='x'><body>caf\u{e9} &lt;&#65;&gt; <![CDATA[x]]></body><x xmlns='urn:q' k='&quot;'/></message><presence/><iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>");
        let mut whole = client_parser();
        whole.handle_bytes(doc.as_bytes());
        let want = all(&mut whole).unwrap();
        assert_eq!(want.len(), 5);
        for _ in 0..200 {
            let cuts = rand_u32s(8);
            let mut p = client_parser();
            let mut got = Vec::new();
            let mut at = 0;
            let bytes = doc.as_bytes();
            for c in cuts {
                let end = (at + 1 + c as usize % 40).min(bytes.len());
                p.handle_bytes(&bytes[at..end]);
                got.extend(all(&mut p).unwrap());
                at = end;
            }
            p.handle_bytes(&bytes[at..]);
            got.extend(all(&mut p).unwrap());
            assert_eq!(got, want);
        }
    }

    #[test]
    fn serializer_never_writes_an_undeclared_prefix() {
        let e = parse_element("<a xmlns='urn:a' xmlns:p='urn:p' p:x='1' xml:lang='en' y='2'/>").unwrap();
        assert_eq!(e.get_attr("p:x"), Some("1"));
        let s = e.to_string();
        assert_eq!(s, "<a xmlns=\"urn:a\" xml:lang=\"en\" y=\"2\"/>");
        assert!(parse_element(&s).is_ok());
    }

    #[test]
    fn byte_order_mark_in_text_is_text() {
        // Regression (fuzz/xml_client_stream): a U+FEFF right after an entity was dropped and
        // the bytes after it duplicated.
        let mut p =
            StreamParser::new(ParserLimits { fragments: true, default_ns: NS_CLIENT.into(), ..Default::default() });
        p.handle_bytes("\u{feff}<message><body>a&gt;\u{feff}{{b</body></message>".as_bytes());
        let ev = all(&mut p).unwrap();
        let StreamEvent::Stanza(m) = &ev[0] else { panic!("{ev:?}") };
        assert_eq!(m.get_child("body", NS_CLIENT).unwrap().text_content(), "a>\u{feff}{{b");
        // Outside a stanza it is character data too, and refused like any other.
        let mut p = client_parser();
        p.handle_bytes(HEADER.as_bytes());
        p.handle_bytes("<presence/>\u{feff}".as_bytes());
        assert!(matches!(all(&mut p), Err(XmlError::NotWellFormed(_))));
    }

    #[test]
    fn restart_keeps_buffered_bytes() {
        let mut p = client_parser();
        p.handle_bytes(HEADER.as_bytes());
        p.handle_bytes(b"<auth/>");
        let ev = all(&mut p).unwrap();
        assert_eq!(ev.len(), 2);
        p.reset();
        p.handle_bytes(HEADER.as_bytes());
        p.handle_bytes(b"<iq/>");
        let ev = all(&mut p).unwrap();
        assert!(matches!(ev[0], StreamEvent::Open(_)));
        assert!(matches!(ev[1], StreamEvent::Stanza(_)));
    }
}
