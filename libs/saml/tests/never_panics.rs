//! Garbage and mutated responses: verification never panics, and a mutant that is still accepted carries
//! exactly the signed values of the original (a mutation can break a response, never change what it says).

mod common;

use common::*;
use proptest::prelude::*;
use tenantgate_saml::{parse_idp_metadata, pem_or_der_certificates, verify_response, Assertion};

/// Snippets that push the parser and the verifier down interesting paths.
const SNIPPETS: &[&str] = &[
    "<!---->",
    "<![CDATA[x]]>",
    "&amp;",
    "&#x41;",
    "<?pi x?>",
    "<ns1:Assertion ID=\"_x\" Version=\"2.0\">",
    "</ns1:Assertion>",
    "<ns2:Signature>",
    "<ns1:NameID>admin@example.com</ns1:NameID>",
    " xmlns:ns1=\"urn:x\"",
    " ID=\"_dup\"",
    "<!DOCTYPE x [<!ENTITY a \"b\">]>",
    "\u{0}",
    "\r\n",
];

fn original() -> Assertion {
    verify_response(&fixture("valid.b64"), &sp(), &idp(), &expect()).unwrap()
}

fn check_mutant(xml: &str, original: &Assertion) -> Result<(), TestCaseError> {
    if let Ok(assertion) = verify_response(&encode(xml), &sp(), &idp(), &expect()) {
        prop_assert_eq!(&assertion, original);
    }
    Ok(())
}

/// A char boundary at or before `at`.
fn boundary(xml: &str, mut at: usize) -> usize {
    at = at.min(xml.len());
    while !xml.is_char_boundary(at) {
        at -= 1;
    }
    at
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn garbage_text_never_panics(text in ".{0,400}") {
        prop_assert!(verify_response(&text, &sp(), &idp(), &expect()).is_err());
        let _ = parse_idp_metadata(&text);
        let _ = pem_or_der_certificates(text.as_bytes());
    }

    #[test]
    fn garbage_base64_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(verify_response(&encode(&String::from_utf8_lossy(&bytes)), &sp(), &idp(), &expect()).is_err());
        let _ = pem_or_der_certificates(&bytes);
    }

    #[test]
    fn deleted_ranges(start in 0usize..8000, length in 1usize..40) {
        let xml = xml("valid.b64");
        let (from, to) = (boundary(&xml, start), boundary(&xml, start + length));
        let mutant = format!("{}{}", &xml[..from], &xml[to..]);
        check_mutant(&mutant, &original())?;
    }

    #[test]
    fn inserted_snippets(at in 0usize..8000, snippet in proptest::sample::select(SNIPPETS)) {
        let xml = xml("valid.b64");
        let at = boundary(&xml, at);
        let mutant = format!("{}{snippet}{}", &xml[..at], &xml[at..]);
        check_mutant(&mutant, &original())?;
    }

    #[test]
    fn replaced_bytes(at in 0usize..8000, byte in 0x20u8..0x7f) {
        let xml = xml("valid.b64");
        let from = boundary(&xml, at);
        let to = boundary(&xml, from + 1).max(from + 1).min(xml.len());
        let mutant = format!("{}{}{}", &xml[..from], char::from(byte), &xml[to..]);
        check_mutant(&mutant, &original())?;
    }
}

#[test]
fn deep_nesting_and_huge_input_are_refused_without_panicking() {
    let deep = format!("{}{}", "<a>".repeat(200_000), "</a>".repeat(200_000));
    assert!(verify_response(&encode(&deep), &sp(), &idp(), &expect()).is_err());
    let (xml, assertion) = (xml("valid.b64"), original());
    let nested = xml.replace(
        "<ns1:Subject>",
        &format!(
            "<ns1:Subject>{}{}",
            "<x>".repeat(5_000),
            "</x>".repeat(5_000)
        ),
    );
    assert!(verify_response(&encode(&nested), &sp(), &idp(), &expect()).is_err());
    assert!(verify_response(&"A".repeat(4 << 20), &sp(), &idp(), &expect()).is_err());
    // Control: the untouched response is accepted by the same calls.
    assert_eq!(
        verify_response(&encode(&xml), &sp(), &idp(), &expect()),
        Ok(assertion)
    );
}
