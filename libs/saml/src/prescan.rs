//! A linear pre-scan of XML text that bounds the parser's work before any tree is built.
//!
//! `roxmltree` checks each attribute of an element against the element's earlier ones (quadratic in the
//! attributes of one element: 36,000 attributes in one element cost 3.4 s at the ACS), and resolves each prefix
//! against the namespaces in scope (linear in them, for every element and attribute). One pass over the text,
//! touching each byte a bounded number of times, refuses a document beyond these [`LIMITS`] with
//! [`SamlError::Malformed`] (what the ACS answers for malformed XML), so the parser's cost stays linear in the
//! input:
//!
//! | limit | value | a real IdP's response |
//! |---|---|---|
//! | attributes of one element (namespace declarations included) | 64 | at most ~10 |
//! | element depth | 64 | about 8 |
//! | elements | 10,000 | about 40 (one per attribute value, a few hundred with many attributes) |
//! | namespace declarations in the document | 256 | 5 to 10 (ADFS-style documents redeclare a few) |
//! | bytes of an element or attribute name (prefix included) | 256 | under 40 |
//!
//! The scanner is not a validator: it follows the XML grammar only as far as counting needs (tags, quoted
//! attribute values, comments, CDATA, processing instructions) and refuses what it cannot follow (a tag or
//! comment left open, an attribute without a quoted value, a `<!DOCTYPE`, which is refused anyway), so nothing
//! it lets through can hide a tag from it. Everything else is the parser's to judge.

use crate::SamlError;

/// Bounds on one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) attributes_per_element: usize,
    pub(crate) depth: usize,
    pub(crate) elements: usize,
    pub(crate) namespace_declarations: usize,
    pub(crate) name_bytes: usize,
}

/// The limits every SAML document (response or metadata) is held to.
pub(crate) const LIMITS: Limits = Limits {
    attributes_per_element: 64,
    depth: 64,
    elements: 10_000,
    namespace_declarations: 256,
    name_bytes: 256,
};

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The index just past the first `needle` at or after `from`.
fn past(bytes: &[u8], from: usize, needle: &[u8]) -> Result<usize, SamlError> {
    bytes
        .get(from..)
        .and_then(|rest| rest.windows(needle.len()).position(|w| w == needle))
        .map(|at| from + at + needle.len())
        .ok_or(SamlError::Malformed)
}

/// Scans `xml` against `limits`: `Ok` when the parser's work on it is bounded, else
/// [`SamlError::Malformed`].
pub(crate) fn check(xml: &str, limits: &Limits) -> Result<(), SamlError> {
    let b = xml.as_bytes();
    let (mut depth, mut elements, mut namespaces) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while let Some(at) = b[i..].iter().position(|&c| c == b'<') {
        i += at;
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = past(b, i + 4, b"-->")?;
        } else if rest.starts_with(b"<![CDATA[") {
            i = past(b, i + 9, b"]]>")?;
        } else if rest.starts_with(b"<!") {
            // A DTD (refused by the parser too) or something that is not XML content.
            return Err(SamlError::Malformed);
        } else if rest.starts_with(b"<?") {
            i = past(b, i + 2, b"?>")?;
        } else if rest.starts_with(b"</") {
            depth = depth.checked_sub(1).ok_or(SamlError::Malformed)?;
            i = past(b, i + 2, b">")?;
        } else {
            elements += 1;
            if elements > limits.elements {
                return Err(SamlError::Malformed);
            }
            i = start_tag(b, i + 1, limits, &mut depth, &mut namespaces)?;
        }
    }
    Ok(())
}

/// Reads a start tag from just after its `<`; returns the index past its `>`.
fn start_tag(
    b: &[u8],
    mut i: usize,
    limits: &Limits,
    depth: &mut usize,
    namespaces: &mut usize,
) -> Result<usize, SamlError> {
    let element = name(b, &mut i, limits)?;
    if element.is_empty() {
        return Err(SamlError::Malformed);
    }
    let mut attributes = 0usize;
    loop {
        while b.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        match b.get(i) {
            None => return Err(SamlError::Malformed),
            Some(b'>') => {
                *depth += 1;
                if *depth > limits.depth {
                    return Err(SamlError::Malformed);
                }
                return Ok(i + 1);
            }
            Some(b'/') => {
                return match b.get(i + 1) {
                    Some(b'>') => Ok(i + 2),
                    _ => Err(SamlError::Malformed),
                };
            }
            Some(_) => {
                let attribute = name(b, &mut i, limits)?;
                if attribute.is_empty() {
                    return Err(SamlError::Malformed);
                }
                attributes += 1;
                if attributes > limits.attributes_per_element {
                    return Err(SamlError::Malformed);
                }
                if attribute == b"xmlns" || attribute.starts_with(b"xmlns:") {
                    *namespaces += 1;
                    if *namespaces > limits.namespace_declarations {
                        return Err(SamlError::Malformed);
                    }
                }
                while b.get(i).copied().is_some_and(is_space) {
                    i += 1;
                }
                if b.get(i) != Some(&b'=') {
                    return Err(SamlError::Malformed);
                }
                i += 1;
                while b.get(i).copied().is_some_and(is_space) {
                    i += 1;
                }
                let quote = match b.get(i) {
                    Some(q @ (b'"' | b'\'')) => *q,
                    _ => return Err(SamlError::Malformed),
                };
                i = past(b, i + 1, &[quote])?;
            }
        }
    }
}

/// A name from `*i` up to whitespace, `=`, `/` or `>`, at most `limits.name_bytes` long.
fn name<'b>(b: &'b [u8], i: &mut usize, limits: &Limits) -> Result<&'b [u8], SamlError> {
    let start = *i;
    while let Some(&c) = b.get(*i) {
        if is_space(c) || matches!(c, b'=' | b'/' | b'>' | b'<' | b'"' | b'\'') {
            break;
        }
        *i += 1;
        if *i - start > limits.name_bytes {
            return Err(SamlError::Malformed);
        }
    }
    Ok(&b[start..*i])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        attributes_per_element: 4,
        depth: 3,
        elements: 6,
        namespace_declarations: 3,
        name_bytes: 8,
    };

    fn attrs(n: usize) -> String {
        (0..n).map(|i| format!(" a{i}=\"v\"")).collect()
    }

    fn nested(n: usize) -> String {
        "<e>".repeat(n) + &"</e>".repeat(n)
    }

    #[test]
    fn attributes_per_element() {
        assert!(check(&format!("<r{}/>", attrs(4)), &SMALL).is_ok());
        assert_eq!(
            check(&format!("<r{}/>", attrs(5)), &SMALL),
            Err(SamlError::Malformed)
        );
        // Per element, not per document.
        assert!(check(&format!("<r{0}><c{0}/></r>", attrs(4)), &SMALL).is_ok());
    }

    #[test]
    fn depth() {
        assert!(check(&nested(3), &SMALL).is_ok());
        assert_eq!(check(&nested(4), &SMALL), Err(SamlError::Malformed));
        // Siblings do not add up; empty elements do not nest.
        assert!(check("<a><b></b><b></b><c/><c/></a>", &SMALL).is_ok());
    }

    #[test]
    fn elements() {
        assert!(check(&format!("<r>{}</r>", "<c/>".repeat(5)), &SMALL).is_ok());
        assert_eq!(
            check(&format!("<r>{}</r>", "<c/>".repeat(6)), &SMALL),
            Err(SamlError::Malformed)
        );
    }

    #[test]
    fn namespace_declarations() {
        let ok = r#"<r xmlns="u" xmlns:a="u"><c xmlns:b="u"/></r>"#;
        assert!(check(ok, &SMALL).is_ok());
        let over = r#"<r xmlns="u" xmlns:a="u"><c xmlns:b="u"/><c xmlns:d="u"/></r>"#;
        assert_eq!(check(over, &SMALL), Err(SamlError::Malformed));
        // An attribute that merely starts with the letters is not one.
        assert!(check(
            r#"<r xmlnsx="1" xmlnsy="2" xmlnsz="3" xmlnsw="4"/>"#,
            &SMALL
        )
        .is_ok());
    }

    #[test]
    fn name_length() {
        assert!(check(r#"<abcdefgh abcdefgh="1"/>"#, &SMALL).is_ok());
        assert_eq!(check("<abcdefghi/>", &SMALL), Err(SamlError::Malformed));
        assert_eq!(
            check(r#"<a abcdefghi="1"/>"#, &SMALL),
            Err(SamlError::Malformed)
        );
    }

    #[test]
    fn markup_the_counts_must_not_be_fooled_by() {
        // Tags inside comments, CDATA, processing instructions and attribute values do not count.
        let hidden = format!(
            "<r a='<x/>' b=\"{}\"><!-- {} --><![CDATA[{}]]><?pi {} ?></r>",
            "&gt;<y>".repeat(3),
            nested(9),
            nested(9),
            nested(9)
        );
        assert!(check(&hidden, &SMALL).is_ok());
        // A `>` inside a value does not end the tag early (hiding attributes after it).
        assert_eq!(
            check(&format!("<r a='>'{}/>", attrs(4)), &SMALL),
            Err(SamlError::Malformed)
        );
        // What the scanner cannot follow is refused, never skipped.
        for bad in [
            "<r a=1/>",
            "<r a/>",
            "<r a='x/>",
            "<!-- open",
            "<![CDATA[ open",
            "<?pi",
            "<!DOCTYPE r []><r/>",
            "</r>",
            "<r",
            "< r/>",
            "<r /",
        ] {
            assert_eq!(check(bad, &SMALL), Err(SamlError::Malformed), "{bad}");
        }
    }

    #[test]
    fn the_fixtures_are_well_within_the_limits() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let xml = match path.extension().and_then(|e| e.to_str()) {
                Some("xml") => text,
                Some("b64") => {
                    let bytes = crate::dsig::decode_base64(text.trim()).unwrap();
                    String::from_utf8(bytes).unwrap()
                }
                _ => continue,
            };
            // A quarter of every limit is still enough.
            let quarter = Limits {
                attributes_per_element: LIMITS.attributes_per_element / 4,
                depth: LIMITS.depth / 4,
                elements: LIMITS.elements / 4,
                namespace_declarations: LIMITS.namespace_declarations / 4,
                name_bytes: LIMITS.name_bytes / 4,
            };
            assert!(check(&xml, &quarter).is_ok(), "{}", path.display());
            seen += 1;
        }
        assert!(seen > 20);
    }
}
