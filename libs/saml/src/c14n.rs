//! Exclusive XML Canonicalization 1.0 without comments (<http://www.w3.org/2001/10/xml-exc-c14n#>) of one
//! element subtree, optionally leaving out one descendant (the enveloped-signature transform).
//!
//! Works on a `roxmltree` document, whose text and attribute values are already entity-expanded and
//! normalised as the XPath data model requires. Prefixes are taken from the original text (roxmltree resolves
//! names to URIs but keeps the byte ranges), since canonical form keeps the prefixes the signer used.

use roxmltree::{Node, NodeId, NodeType};

use crate::SamlError;

/// The canonical form of `apex` and its descendants, without comments, without the subtree rooted at
/// `exclude`, with the namespace prefixes in `inclusive_prefixes` (the InclusiveNamespaces PrefixList,
/// `#default` for the default namespace) treated as inclusive canonicalisation treats them.
pub(crate) fn canonicalize(
    apex: Node<'_, '_>,
    exclude: Option<NodeId>,
    inclusive_prefixes: &[String],
) -> Result<Vec<u8>, SamlError> {
    let text = apex.document().input_text();
    let inclusive: Vec<&str> = inclusive_prefixes
        .iter()
        .map(|p| if p == "#default" { "" } else { p.as_str() })
        .collect();
    let mut out = String::new();
    // Namespace declarations rendered by output ancestors: (prefix, uri), innermost last.
    let mut rendered: Vec<(String, String)> = Vec::new();
    // Explicit stack instead of recursion: attacker-supplied depth must not overflow the call stack.
    // Each entry is (node, rendered.len() before the element's declarations, entering?).
    let mut stack: Vec<(Node<'_, '_>, usize, bool)> = vec![(apex, 0, true)];
    while let Some((node, mark, entering)) = stack.pop() {
        if Some(node.id()) == exclude {
            continue;
        }
        match node.node_type() {
            NodeType::Element if entering => {
                let mark = rendered.len();
                let qname = element_qname(text, node)?;
                out.push('<');
                out.push_str(qname);
                render_namespaces(node, qname, text, &inclusive, &mut rendered, &mut out)?;
                render_attributes(node, text, &mut out)?;
                out.push('>');
                stack.push((node, mark, false));
                let children: Vec<_> = node.children().collect();
                for child in children.into_iter().rev() {
                    stack.push((child, 0, true));
                }
            }
            NodeType::Element => {
                out.push_str("</");
                out.push_str(element_qname(text, node)?);
                out.push('>');
                rendered.truncate(mark);
            }
            NodeType::Text => escape_text(node.text().unwrap_or(""), &mut out),
            NodeType::PI => {
                if let Some(pi) = node.pi() {
                    out.push_str("<?");
                    out.push_str(pi.target);
                    if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                        out.push(' ');
                        out.push_str(value);
                    }
                    out.push_str("?>");
                }
            }
            NodeType::Comment | NodeType::Root => {}
        }
    }
    Ok(out.into_bytes())
}

/// The element's qualified name as written (`prefix:local` or `local`).
fn element_qname<'t>(text: &'t str, node: Node<'_, '_>) -> Result<&'t str, SamlError> {
    let rest = text
        .get(node.range().start + 1..)
        .ok_or(SamlError::Malformed)?;
    let end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .ok_or(SamlError::Malformed)?;
    Ok(&rest[..end])
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(prefix, _)| prefix)
}

fn lookup<'r>(rendered: &'r [(String, String)], prefix: &str) -> &'r str {
    rendered
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map_or("", |(_, uri)| uri.as_str())
}

fn render_namespaces(
    node: Node<'_, '_>,
    qname: &str,
    text: &str,
    inclusive: &[&str],
    rendered: &mut Vec<(String, String)>,
    out: &mut String,
) -> Result<(), SamlError> {
    // (prefix, uri) pairs this element needs in scope: visibly utilised ones, then the inclusive list.
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    let element_prefix = prefix_of(qname);
    let element_uri = node.tag_name().namespace().unwrap_or("");
    if !element_prefix.is_empty() && element_uri.is_empty() {
        return Err(SamlError::Malformed);
    }
    wanted.push((element_prefix, element_uri));
    for attribute in node.attributes() {
        let prefix = prefix_of(
            text.get(attribute.range_qname())
                .ok_or(SamlError::Malformed)?,
        );
        if !prefix.is_empty() && prefix != "xml" {
            wanted.push((prefix, attribute.namespace().ok_or(SamlError::Malformed)?));
        }
    }
    for prefix in inclusive {
        let uri = if prefix.is_empty() {
            node.default_namespace()
        } else {
            node.lookup_namespace_uri(Some(prefix))
        };
        if let Some(uri) = uri {
            wanted.push((prefix, uri));
        }
    }
    let mut declarations: Vec<(&str, &str)> = Vec::new();
    for (prefix, uri) in wanted {
        if lookup(rendered, prefix) != uri && !declarations.iter().any(|(p, _)| *p == prefix) {
            declarations.push((prefix, uri));
        }
    }
    declarations.sort_by(|a, b| a.0.cmp(b.0));
    for (prefix, uri) in declarations {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        escape_attribute(uri, out);
        out.push('"');
        rendered.push((prefix.to_owned(), uri.to_owned()));
    }
    Ok(())
}

fn render_attributes(node: Node<'_, '_>, text: &str, out: &mut String) -> Result<(), SamlError> {
    let mut attributes = Vec::new();
    for attribute in node.attributes() {
        let qname = text
            .get(attribute.range_qname())
            .ok_or(SamlError::Malformed)?;
        attributes.push((
            attribute.namespace().unwrap_or(""),
            attribute.name(),
            qname,
            attribute.value(),
        ));
    }
    attributes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (_, _, qname, value) in attributes {
        out.push(' ');
        out.push_str(qname);
        out.push_str("=\"");
        escape_attribute(value, out);
        out.push('"');
    }
    Ok(())
}

fn escape_text(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Canonical form of the first element named `name` in `xml`, leaving out the element named `exclude`.
    fn c14n(xml: &str, name: &str, exclude: Option<&str>, prefixes: &[&str]) -> String {
        let document = roxmltree::Document::parse(xml).unwrap();
        let find = |name: &str| {
            document
                .descendants()
                .find(|n| n.tag_name().name() == name)
                .unwrap()
        };
        let prefixes: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
        let bytes = canonicalize(find(name), exclude.map(|e| find(e).id()), &prefixes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn spec_example_renders_only_visibly_utilised_namespaces() {
        // Exclusive XML Canonicalization 1.0, section 2.2.
        let xml = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
        assert_eq!(
            c14n(xml, "elem2", None, &[]),
            r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
        );
    }

    #[test]
    fn sorts_namespaces_and_attributes_and_escapes() {
        let xml =
            "<r xmlns=\"urn:d\" xmlns:b=\"urn:b\" xmlns:a=\"urn:a\" z=\"1\" b:y=\"2\" a:x=\"3\" \
                   a=\"&lt;&amp;&quot;&#9;&#10;>\"><c>t&amp;&lt;&gt;&#13;</c></r>";
        assert_eq!(
            c14n(xml, "r", None, &[]),
            "<r xmlns=\"urn:d\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" a=\"&lt;&amp;&quot;&#x9;&#xA;>\" z=\"1\" \
             a:x=\"3\" b:y=\"2\"><c>t&amp;&lt;&gt;&#xD;</c></r>"
        );
    }

    #[test]
    fn default_namespace_is_undeclared_only_when_rendered() {
        let xml = r#"<r xmlns="urn:d"><s xmlns=""><t/></s></r>"#;
        assert_eq!(
            c14n(xml, "r", None, &[]),
            r#"<r xmlns="urn:d"><s xmlns=""><t></t></s></r>"#
        );
        assert_eq!(c14n(xml, "s", None, &[]), "<s><t></t></s>");
        let same = r#"<a:r xmlns:a="urn:a"><a:s xmlns:a="urn:a"/></a:r>"#;
        assert_eq!(
            c14n(same, "r", None, &[]),
            r#"<a:r xmlns:a="urn:a"><a:s></a:s></a:r>"#
        );
    }

    #[test]
    fn inclusive_prefix_list_renders_prefixes_used_only_in_content() {
        let xml = r#"<r xmlns:xs="urn:xs" xmlns:u="urn:u"><v type="xs:string">x</v></r>"#;
        assert_eq!(c14n(xml, "v", None, &[]), r#"<v type="xs:string">x</v>"#);
        assert_eq!(
            c14n(xml, "v", None, &["xs"]),
            r#"<v xmlns:xs="urn:xs" type="xs:string">x</v>"#
        );
        assert_eq!(
            c14n(xml, "v", None, &["#default", "missing"]),
            r#"<v type="xs:string">x</v>"#
        );
    }

    #[test]
    fn drops_comments_keeps_pis_expands_cdata_and_excludes_the_signature() {
        let xml = "<r><!--c--><?p d?><![CDATA[<&>]]><x/><y><z/></y>tail</r>";
        assert_eq!(
            c14n(xml, "r", Some("y"), &[]),
            "<r><?p d?>&lt;&amp;&gt;<x></x>tail</r>"
        );
        assert_eq!(
            c14n(xml, "r", None, &[]),
            "<r><?p d?>&lt;&amp;&gt;<x></x><y><z></z></y>tail</r>"
        );
    }
}
