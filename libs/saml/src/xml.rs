//! Reading the XML an IdP sends: parsing with DTDs refused and the parser's work bounded, and
//! the text of a simple-content element. Shared by the response, its signatures and metadata;
//! a leaf (it names none of them).

use roxmltree::{Document, Node, ParsingOptions};

use crate::SamlError;

/// The most nodes a parsed document may have.
const MAX_NODES: u32 = 20_000;

/// Parses XML with DTDs refused and a node limit, after a linear pre-scan has bounded the parser's work
/// (attributes per element, depth, elements, namespace declarations, name lengths: [`crate::prescan`]).
pub(crate) fn parse_xml(xml: &str) -> Result<Document<'_>, SamlError> {
    crate::prescan::check(xml, &crate::prescan::LIMITS)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(xml, options).map_err(|_| SamlError::Malformed)
}

/// The text of a simple-content element: all its text children joined (comments and processing instructions
/// do not split it, so `a<!---->b` reads as `ab`), trimmed. A child element is `Malformed`.
pub(crate) fn text_of(node: Node<'_, '_>) -> Result<String, SamlError> {
    let mut text = String::new();
    for child in node.children() {
        if child.is_element() {
            return Err(SamlError::Malformed);
        }
        if child.is_text() {
            text.push_str(child.text().unwrap_or(""));
        }
    }
    Ok(text.trim().to_owned())
}
