//! A small XML tree over quick-xml's event reader, remembering where each element starts, so feed errors can
//! say "at Line L, Column C" as Amazon's processing reports do. Documents that are not well-formed are refused
//! with the texts of Amazon's (Xerces-based) parser, e.g. `XML Parsing Fatal Error at Line 27, Column 1:
//! Content is not allowed in trailing section.` (amzn/selling-partner-api-models#1473).

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesStart, Event};

/// 1-based line and column of a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    fn of(document: &[u8], offset: usize) -> Self {
        Cursor::default().advance(document, offset)
    }
}

/// Where a reader moving forward through a document is: each step scans only the bytes since the last,
/// so the positions of a whole document cost one pass over it (a feed of thousands of messages is
/// one long line).
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    offset: usize,
    line: usize,
    /// Characters since the start of the line.
    column: usize,
}

impl Cursor {
    fn advance(&mut self, document: &[u8], offset: usize) -> Position {
        let offset = offset.min(document.len());
        if offset < self.offset {
            *self = Self::default();
        }
        for byte in &document[self.offset..offset] {
            if *byte == b'\n' {
                self.line += 1;
                self.column = 0;
            } else if *byte & 0xC0 != 0x80 {
                // Not a UTF-8 continuation byte: a character starts here.
                self.column += 1;
            }
        }
        self.offset = offset;
        Position { line: self.line + 1, column: self.column + 1 }
    }
}

/// The document is not well-formed XML: the whole feed fails (ResultMessageCode 5001).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("XML Parsing Fatal Error at Line {}, Column {}: {message}", at.line, at.column)]
pub(crate) struct NotWellFormed {
    pub at: Position,
    pub message: String,
}

/// Well-formed but not what Amazon's schema (or the sandbox) accepts there (ResultMessageCode 5000).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("XML Parsing Error at Line {}, Column {}: {message}", at.line, at.column)]
pub(crate) struct Invalid {
    pub at: Position,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    /// Local name (any namespace prefix dropped).
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Character data directly inside the element, untrimmed.
    pub text: String,
    pub at: Position,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text content.
    pub fn value(&self) -> &str {
        self.text.trim()
    }

    /// A child's trimmed text, if the child is there.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.value().to_string())
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn invalid(&self, message: impl Into<String>) -> Invalid {
        Invalid { at: self.at, message: message.into() }
    }

    /// A child the schema requires, worded as Amazon's parser words its absence.
    pub fn required(&self, name: &str) -> Result<&Element, Invalid> {
        self.child(name).ok_or_else(|| {
            self.invalid(format!(
                "cvc-complex-type.2.4.b: The content of element '{}' is not complete. One of '{{{name}}}' is expected.",
                self.name
            ))
        })
    }

    pub fn required_text(&self, name: &str) -> Result<String, Invalid> {
        self.required(name).map(|c| c.value().to_string())
    }
}

/// `Value 'x' is not facet-valid with respect to enumeration '[A, B]'`, Amazon's parser's words.
pub(crate) fn check_enumeration(element: &Element, allowed: &[&str]) -> Result<String, Invalid> {
    let value = element.value();
    if allowed.contains(&value) {
        return Ok(value.to_string());
    }
    Err(element.invalid(format!(
        "cvc-enumeration-valid: Value '{value}' is not facet-valid with respect to enumeration '[{}]'. It must be a value from the enumeration.",
        allowed.join(", ")
    )))
}

/// Parses a whole document into its root element.
pub(crate) fn parse(document: &[u8]) -> Result<Element, NotWellFormed> {
    let fatal =
        |offset: usize, message: &str| NotWellFormed { at: Position::of(document, offset), message: message.into() };
    let text = std::str::from_utf8(document)
        .map_err(|e| fatal(e.valid_up_to(), "Invalid byte 1 of 1-byte UTF-8 sequence."))?;
    // A byte order mark may precede the prolog.
    let bom = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut reader = Reader::from_str(&text[bom..]);
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut cursor = Cursor::default();
    loop {
        let start = bom + reader.buffer_position() as usize;
        let at = cursor.advance(document, start);
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(fatal(bom + reader.error_position() as usize, &describe(&e))),
        };
        match event {
            Event::Start(tag) => {
                if open.is_empty() && root.is_some() {
                    return Err(fatal(start, TRAILING_MARKUP));
                }
                open.push(element(&tag, at).map_err(|m| fatal(start, &m))?);
            }
            Event::Empty(tag) => {
                let element = element(&tag, at).map_err(|m| fatal(start, &m))?;
                attach(&mut open, &mut root, element).map_err(|m| fatal(start, m))?;
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches.
                let element = open.pop().ok_or_else(|| fatal(start, TRAILING_MARKUP))?;
                attach(&mut open, &mut root, element).map_err(|m| fatal(start, m))?;
            }
            Event::Text(content) => {
                let content = content.decode().map_err(|e| fatal(start, &e.to_string()))?;
                add_text(&mut open, root.is_some(), &content).map_err(|m| fatal(start, &m))?;
            }
            Event::CData(content) => {
                let content = content.decode().map_err(|e| fatal(start, &e.to_string()))?;
                add_text(&mut open, root.is_some(), &content).map_err(|m| fatal(start, &m))?;
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve(&reference).map_err(|m| fatal(start, &m))?;
                add_text(&mut open, root.is_some(), &resolved).map_err(|m| fatal(start, &m))?;
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !open.is_empty() {
        return Err(fatal(document.len(), UNFINISHED));
    }
    root.ok_or_else(|| fatal(document.len(), "Premature end of file."))
}

const TRAILING_MARKUP: &str = "The markup in the document following the root element must be well-formed.";
const UNFINISHED: &str = "XML document structures must start and end within the same entity.";

fn describe(error: &quick_xml::Error) -> String {
    use quick_xml::errors::IllFormedError;
    match error {
        quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag { expected, .. }) => {
            format!("The element type \"{expected}\" must be terminated by the matching end-tag \"</{expected}>\".")
        }
        quick_xml::Error::IllFormed(IllFormedError::MissingEndTag(_)) | quick_xml::Error::Syntax(_) => {
            UNFINISHED.to_string()
        }
        other => other.to_string(),
    }
}

fn element(tag: &BytesStart<'_>, at: Position) -> Result<Element, String> {
    let name = local(tag.local_name().as_ref())?;
    let mut attributes = Vec::new();
    for attribute in tag.attributes() {
        let attribute: Attribute<'_> = attribute.map_err(|e| e.to_string())?;
        let key = local(attribute.key.local_name().as_ref())?;
        let value = attribute.unescape_value().map_err(|e| e.to_string())?;
        attributes.push((key, value.into_owned()));
    }
    Ok(Element { name, attributes, children: Vec::new(), text: String::new(), at })
}

fn local(name: &[u8]) -> Result<String, String> {
    std::str::from_utf8(name).map(str::to_string).map_err(|e| e.to_string())
}

fn attach(open: &mut [Element], root: &mut Option<Element>, element: Element) -> Result<(), &'static str> {
    match open.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_some() => return Err(TRAILING_MARKUP),
        None => *root = Some(element),
    }
    Ok(())
}

fn add_text(open: &mut [Element], after_root: bool, content: &str) -> Result<(), String> {
    if let Some(bad) = content.chars().find(|c| !is_xml_char(*c)) {
        return Err(format!(
            "An invalid XML character (Unicode: 0x{:x}) was found in the element content of the document.",
            u32::from(bad)
        ));
    }
    match open.last_mut() {
        Some(element) => element.text.push_str(content),
        None if content.trim().is_empty() => {}
        None if after_root => return Err("Content is not allowed in trailing section.".into()),
        None => return Err("Content is not allowed in prolog.".into()),
    }
    Ok(())
}

fn resolve(reference: &BytesRef<'_>) -> Result<String, String> {
    let name = reference.decode().map_err(|e| e.to_string())?;
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c.to_string()),
            _ => Err(format!("Character reference \"&{name}\" is an invalid XML character.")),
        };
    }
    resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| format!("The entity \"{name}\" was referenced, but not declared."))
}

/// XML 1.0's `Char` production.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fatal(document: &str) -> String {
        parse(document.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn builds_a_tree_with_positions_and_entities() {
        let document = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AmazonEnvelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n  <Header><MerchantIdentifier>A &amp; B&#33;</MerchantIdentifier></Header>\n  <x:Message xmlns:x=\"urn:x\"><![CDATA[<raw>]]></x:Message>\n  <Amount currency=\"USD\">1.50</Amount><Empty/>\n</AmazonEnvelope>\n";
        let root = parse(document.as_bytes()).unwrap();
        assert_eq!(root.name, "AmazonEnvelope");
        assert_eq!(root.at, Position { line: 2, column: 1 });
        let header = root.child("Header").unwrap();
        assert_eq!(header.at, Position { line: 3, column: 3 });
        assert_eq!(header.text_of("MerchantIdentifier").as_deref(), Some("A & B!"));
        assert_eq!(root.child("Message").unwrap().value(), "<raw>");
        assert_eq!(root.child("Amount").unwrap().attribute("currency"), Some("USD"));
        assert!(root.child("Empty").is_some());
        let missing = root.required("MessageType").unwrap_err().to_string();
        assert!(missing.starts_with("XML Parsing Error at Line 2, Column 1: cvc-complex-type.2.4.b"), "{missing}");
    }

    #[test]
    fn refuses_what_is_not_well_formed_in_amazons_words() {
        assert_eq!(fatal(""), "XML Parsing Fatal Error at Line 1, Column 1: Premature end of file.");
        assert_eq!(fatal("junk<a/>"), "XML Parsing Fatal Error at Line 1, Column 1: Content is not allowed in prolog.");
        assert_eq!(
            fatal("<a/>\njunk"),
            "XML Parsing Fatal Error at Line 1, Column 5: Content is not allowed in trailing section."
        );
        assert!(fatal("<a/><b/>").ends_with(TRAILING_MARKUP));
        assert!(
            fatal("<a><b></a>").contains("The element type \"b\" must be terminated by the matching end-tag \"</b>\".")
        );
        assert!(fatal("<a><b>").ends_with(UNFINISHED), "{}", fatal("<a><b>"));
        assert!(fatal("<a>&nbsp;</a>").ends_with("The entity \"nbsp\" was referenced, but not declared."));
        assert!(fatal("<a>\u{1}</a>").contains("invalid XML character (Unicode: 0x1)"));
        assert!(fatal("<a>&#1;</a>").contains("is an invalid XML character"));
        let bad_utf8 = parse(b"<a>\xff</a>").unwrap_err();
        assert_eq!(bad_utf8.message, "Invalid byte 1 of 1-byte UTF-8 sequence.");
        assert_eq!(bad_utf8.at, Position { line: 1, column: 4 });
        assert!(parse("\u{feff}<a/>".as_bytes()).is_ok(), "a byte order mark is fine");
    }

    #[test]
    fn enumerations() {
        let root = parse(b"<StatusCode>Maybe</StatusCode>").unwrap();
        let error = check_enumeration(&root, &["Success", "Failure"]).unwrap_err();
        assert!(
            error.message.contains("Value 'Maybe' is not facet-valid with respect to enumeration '[Success, Failure]'")
        );
    }
}
