//! Attacks built by editing responses the real IdP signed: tampering, signature wrapping (XSW), comment
//! truncation, algorithm and transform games. Each refusal asserts the exact code; each family has an
//! accepted control that makes a similar but harmless edit, so a verifier that refuses everything fails too.

mod common;

use common::*;
use tenantgate_saml::{verify_response, SamlError};

fn check(xml: &str) -> Result<tenantgate_saml::Assertion, SamlError> {
    verify_response(&encode(xml), &sp(), &idp(), &expect())
}

/// The valid response's XML, its assertion, and the assertion's ID.
fn valid() -> (String, String, String) {
    let xml = xml("valid.b64");
    let assertion = assertion(&xml).to_owned();
    let id = attribute(&assertion, "<ns1:Assertion ", "ID").to_owned();
    (xml, assertion, id)
}

/// A copy of the signed assertion that says the subject is admin, without its signature, with `id`.
fn evil_copy(assertion: &str, id: &str, original_id: &str) -> String {
    let signature = slice(assertion, "<ns2:Signature ", "</ns2:Signature>");
    assertion
        .replace(signature, "")
        .replace(
            "alice@example.com</ns1:NameID>",
            "admin@example.com</ns1:NameID>",
        )
        .replace(&format!("ID=\"{original_id}\""), &format!("ID=\"{id}\""))
}

#[test]
fn controls_harmless_edits_are_accepted() {
    let (xml, assertion, _) = valid();
    // Whitespace, comments and an Extensions element outside the assertion, and a comment inside it, change
    // nothing that is signed.
    let issuer_end = "</ns1:Issuer><ns0:Status>";
    let edits = [
        replace_once(
            &xml,
            issuer_end,
            "</ns1:Issuer><ns0:Extensions><x:y xmlns:x=\"urn:x\"/></ns0:Extensions><ns0:Status>",
        ),
        replace_once(&xml, "<ns0:Status>", "\n  <!-- hello -->\n<ns0:Status>"),
        xml.replace(
            &assertion,
            &assertion.replace("<ns1:Subject>", "<ns1:Subject><!-- note -->"),
        ),
    ];
    for (i, edit) in edits.iter().enumerate() {
        assert!(check(edit).is_ok(), "edit {i}: {:?}", check(edit));
    }
}

#[test]
fn tampering_with_signed_content_breaks_the_signature() {
    let (xml, assertion, _) = valid();
    let signature_value = slice(&assertion, "<ns2:SignatureValue>", "</ns2:SignatureValue>");
    // One base64 digit changed to another: still valid base64, a different signature.
    let at = "<ns2:SignatureValue>".len() + 10;
    let digit = if &signature_value[at..=at] == "A" {
        "B"
    } else {
        "A"
    };
    let flipped = format!(
        "{}{digit}{}",
        &signature_value[..at],
        &signature_value[at + 1..]
    );
    let cases = [
        (
            "name id",
            replace_once(
                &xml,
                "alice@example.com</ns1:NameID>",
                "admin@example.com</ns1:NameID>",
            ),
        ),
        (
            "attribute",
            replace_once(&xml, ">Alice Example<", ">Admin Example<"),
        ),
        (
            "confirmation expiry extended",
            xml.replace(
                "NotOnOrAfter=\"2026-12-01T05:05:00Z\" Recipient",
                "NotOnOrAfter=\"2027-12-01T05:05:00Z\" Recipient",
            ),
        ),
        ("signature value", xml.replace(signature_value, &flipped)),
        ("digest value", {
            let digest = slice(&xml, "<ns2:DigestValue>", "</ns2:DigestValue>");
            xml.replace(
                digest,
                "<ns2:DigestValue>mrMAVvnCuSNIcpo76CQIKu3Z2dai6EM4nYCEN8ZgW6I=</ns2:DigestValue>",
            )
        }),
    ];
    for (what, edit) in cases {
        assert_ne!(edit, xml, "{what}: the edit must change something");
        assert_eq!(
            check(&edit).map(|_| ()),
            Err(SamlError::BadSignature),
            "{what}"
        );
    }
    // The signed Response: tampering outside the assertion breaks the Response signature.
    let both = xml_both();
    assert!(check(&both).is_ok(), "control: both signed");
    let tampered = replace_once(
        &both,
        "IssueInstant=\"2026-12-01T05:00:00Z\" Destination",
        "IssueInstant=\"2026-12-01T05:00:01Z\" Destination",
    );
    assert_eq!(check(&tampered).map(|_| ()), Err(SamlError::BadSignature));
}

fn xml_both() -> String {
    xml("valid_both_signed.b64")
}

#[test]
fn comment_inside_name_id_does_not_truncate_it() {
    // The IdP signed NameID "alice@example.com.evil.com"; a comment splits the text without breaking the
    // signature (exc-c14n drops comments). A parser that reads the first text node would see alice@example.com.
    let xml = xml("name_id_evil.b64");
    let control = check(&xml).expect("control");
    assert_eq!(control.name_id, "alice@example.com.evil.com");
    let split = replace_once(
        &xml,
        "alice@example.com.evil.com</ns1:NameID>",
        "alice@example.com<!---->.evil.com</ns1:NameID>",
    );
    let assertion =
        check(&split).expect("comments are outside the signature; the value must still be whole");
    assert_eq!(assertion.name_id, "alice@example.com.evil.com");
}

#[test]
fn signature_wrapping_is_refused() {
    let (xml, assertion, id) = valid();
    let issuer_end = "</ns1:Issuer><ns0:Status>";
    let ext =
        |inner: &str| format!("</ns1:Issuer><ns0:Extensions>{inner}</ns0:Extensions><ns0:Status>");
    let signature = slice(&assertion, "<ns2:Signature ", "</ns2:Signature>").to_owned();
    let cases: Vec<(&str, String)> = vec![
        // XSW1/2: evil unsigned assertion in place, the signed original hidden in Extensions.
        (
            "original in extensions",
            replace_once(&xml, &assertion, &evil_copy(&assertion, "_evil", &id)).replacen(
                issuer_end,
                &ext(&assertion),
                1,
            ),
        ),
        // Same ID twice: the verifier might check one and read the other.
        (
            "duplicate id",
            replace_once(
                &xml,
                &assertion,
                &format!("{assertion}{}", evil_copy(&assertion, &id, &id)),
            ),
        ),
        (
            "duplicate id before",
            replace_once(
                &xml,
                &assertion,
                &format!("{}{assertion}", evil_copy(&assertion, &id, &id)),
            ),
        ),
        // XSW3/4: evil assertion carrying the original signature, which still points at the original ID.
        (
            "signature moved to evil assertion",
            replace_once(
                &xml,
                &assertion,
                &evil_copy(&assertion, "_evil", &id).replacen(
                    "</ns1:Issuer>",
                    &format!("</ns1:Issuer>{signature}"),
                    1,
                ),
            ),
        ),
        // The only assertion, signed and intact, but not a direct child of the Response.
        (
            "assertion not a direct child",
            replace_once(&xml, &assertion, "").replacen(issuer_end, &ext(&assertion), 1),
        ),
        // Evil assertion wraps the signed one inside its own Subject.
        (
            "nested assertion",
            replace_once(
                &xml,
                &assertion,
                &evil_copy(&assertion, "_evil", &id).replacen(
                    "<ns1:Subject>",
                    &format!("<ns1:Subject>{assertion}"),
                    1,
                ),
            ),
        ),
        // Two Signatures on the assertion.
        (
            "two signatures",
            replace_once(&xml, &signature, &format!("{signature}{signature}")),
        ),
        // Two References, the second pointing at the evil copy.
        ("two references", {
            let reference = slice(&signature, "<ns2:Reference ", "</ns2:Reference>");
            replace_once(
                &xml,
                reference,
                &format!("{reference}{}", reference.replace(&id, "_evil")),
            )
        }),
        // Reference to the whole document, and to another element.
        (
            "empty reference",
            replace_once(&xml, &format!("URI=\"#{id}\""), "URI=\"\""),
        ),
        (
            "reference to another id",
            replace_once(&xml, &format!("URI=\"#{id}\""), "URI=\"#_other\""),
        ),
        // A signature somewhere else in the document.
        (
            "stray signature",
            replace_once(&xml, "<ns0:Status>", &format!("<ns0:Status>{signature}")),
        ),
    ];
    for (what, edit) in cases {
        assert_ne!(edit, xml, "{what}: the edit must change something");
        assert_eq!(check(&edit).map(|_| ()), Err(SamlError::Wrapped), "{what}");
    }
}

#[test]
fn unsigned_assertion_behind_a_moved_signature_is_refused() {
    let (xml, assertion, _) = valid();
    let signature = slice(&assertion, "<ns2:Signature ", "</ns2:Signature>");
    // The assertion's signature moved up to the Response: the assertion itself is now unsigned.
    let moved = replace_once(&xml, signature, "").replacen(
        "<ns0:Status>",
        &format!("{signature}<ns0:Status>"),
        1,
    );
    assert_eq!(check(&moved).map(|_| ()), Err(SamlError::UnsignedAssertion));
}

#[test]
fn algorithms_and_transforms_outside_the_allow_list_are_refused() {
    let (xml, _, _) = valid();
    let exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
    let cases = [
        ("inclusive c14n", replace_once(&xml, &format!("<ns2:CanonicalizationMethod Algorithm=\"{exc}\"/>"),
            "<ns2:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>")),
        ("xpath transform", replace_once(&xml, "<ns2:Transforms>",
            "<ns2:Transforms><ns2:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"/>")),
        ("no c14n transform", replace_once(&xml, &format!("<ns2:Transform Algorithm=\"{exc}\"/>"), "")),
        ("sha1 digest", replace_once(&xml, "http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1")),
        ("hmac", replace_once(&xml, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")),
        ("ds:Object", replace_once(&xml, "</ns2:KeyInfo>", "</ns2:KeyInfo><ns2:Object>x</ns2:Object>")),
        ("encrypted assertion", replace_once(&xml, "<ns0:Status>",
            "<ns1:EncryptedAssertion><x:EncryptedData xmlns:x=\"http://www.w3.org/2001/04/xmlenc#\"/></ns1:EncryptedAssertion><ns0:Status>")),
    ];
    for (what, edit) in cases {
        assert_eq!(
            check(&edit).map(|_| ()),
            Err(SamlError::Unsupported),
            "{what}"
        );
    }
    // Control: SHA-512 (signature and digest) is allowed.
    assert!(verify_response(&fixture("valid_sha512.b64"), &sp(), &idp(), &expect()).is_ok());
}

#[test]
fn malformed_documents_are_refused() {
    let (xml, _, _) = valid();
    let body = xml.trim_start_matches("<?xml version=\"1.0\"?>").to_owned();
    let cases = [
        (
            "dtd with entity",
            format!("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e \"x\">]>{body}"),
        ),
        ("not xml", "hello".to_owned()),
        ("truncated", xml[..xml.len() / 2].to_owned()),
        (
            "not a response",
            xml.replace("ns0:Response", "ns0:ArtifactResponse"),
        ),
        (
            "version 1.1",
            replace_once(
                &xml,
                "Version=\"2.0\" IssueInstant=\"2026-12-01T05:00:00Z\" Destination",
                "Version=\"1.1\" IssueInstant=\"2026-12-01T05:00:00Z\" Destination",
            ),
        ),
    ];
    for (what, edit) in cases {
        assert_eq!(
            check(&edit).map(|_| ()),
            Err(SamlError::Malformed),
            "{what}"
        );
    }
    assert_eq!(
        verify_response("%%% not base64", &sp(), &idp(), &expect()).map(|_| ()),
        Err(SamlError::Malformed)
    );
    assert_eq!(
        verify_response("", &sp(), &idp(), &expect()).map(|_| ()),
        Err(SamlError::Malformed)
    );
    // Control: the base64 may be wrapped over lines, as some IdPs send it.
    let wrapped: String = fixture("valid.b64")
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
        .collect();
    assert!(verify_response(&wrapped, &sp(), &idp(), &expect()).is_ok());
}
