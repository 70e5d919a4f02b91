//! Responses minted and signed by the real pysaml2/xmlsec1 IdP (tests/idp/saml): the accepted controls and
//! the table of refusals, each asserting the exact error code.

mod common;

use common::*;
use tenantgate_saml::{verify_response, Expectation, SamlError};

#[test]
fn accepts_a_pysaml2_response_and_reads_the_signed_assertion() {
    let assertion =
        verify_response(&fixture("valid.b64"), &sp(), &idp(), &expect()).expect("valid");
    let xml = xml("valid.b64");
    assert_eq!(assertion.id, attribute(&xml, "<ns1:Assertion ", "ID"));
    assert_eq!(assertion.issuer, IDP_ENTITY);
    assert_eq!(assertion.name_id, "alice@example.com");
    assert_eq!(
        assertion.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    assert_eq!(assertion.in_response_to.as_deref(), Some(REQUEST_ID));
    assert_eq!(assertion.not_on_or_after_ms, NOW_MS + 300_000);
    assert_eq!(
        assertion.session_index.as_deref(),
        Some(attribute(&xml, "<ns1:AuthnStatement ", "SessionIndex"))
    );
    assert_eq!(
        assertion.attributes,
        vec![
            (
                "urn:oid:0.9.2342.19200300.100.1.3".to_owned(),
                vec!["alice@example.com".to_owned()]
            ),
            (
                "urn:oid:2.16.840.1.113730.3.1.241".to_owned(),
                vec!["Alice Example".to_owned()]
            ),
        ]
    );
    assert_eq!(assertion.email(), Some("alice@example.com"));
}

#[test]
fn accepts_the_other_signed_shapes_pysaml2_makes() {
    for name in [
        "valid_both_signed.b64",
        "valid_sha512.b64",
        "no_destination.b64",
        "valid_unspecified_name_id.b64",
    ] {
        let result = verify_response(&fixture(name), &sp(), &idp(), &expect());
        assert!(result.is_ok(), "{name}: {result:?}");
    }
    let bob = verify_response(
        &fixture("valid_unspecified_name_id.b64"),
        &sp(),
        &idp(),
        &expect(),
    )
    .unwrap();
    assert_eq!(bob.name_id, "bob-0001");
    assert_eq!(
        bob.email(),
        Some("bob@example.com"),
        "from the mail attribute, not the NameID"
    );
}

#[test]
fn replay_bound_is_the_earliest_not_on_or_after() {
    let assertion =
        verify_response(&fixture("short_confirmation.b64"), &sp(), &idp(), &expect()).unwrap();
    assert_eq!(
        assertion.not_on_or_after_ms,
        NOW_MS + 60_000,
        "SubjectConfirmationData ends before Conditions"
    );
}

#[test]
fn refuses_each_attack_with_its_code() {
    let other_audience_sp = tenantgate_saml::ServiceProvider {
        entity_id: "https://other.tenantgate.test/saml/metadata".into(),
        acs_url: ACS.into(),
    };
    // (fixture, error); the control is the valid response passing the same checks.
    let table: &[(&str, SamlError)] = &[
        ("unsigned.b64", SamlError::UnsignedAssertion),
        ("response_signed_only.b64", SamlError::UnsignedAssertion),
        ("sha1.b64", SamlError::Unsupported),
        ("wrong_audience.b64", SamlError::Audience),
        ("wrong_recipient.b64", SamlError::Recipient),
        ("wrong_destination.b64", SamlError::Destination),
        ("wrong_issuer.b64", SamlError::Issuer),
        ("wrong_assertion_issuer.b64", SamlError::Issuer),
        ("status_failure.b64", SamlError::Status),
        ("not_yet_valid.b64", SamlError::NotYetValid),
        ("conditions_expired.b64", SamlError::Expired),
        ("attacker_signed.b64", SamlError::BadSignature),
        ("unsolicited.b64", SamlError::InResponseTo),
    ];
    for (name, error) in table {
        assert_eq!(
            verify_response(&fixture(name), &sp(), &idp(), &expect()),
            Err(error.clone()),
            "{name}"
        );
    }
    assert!(
        verify_response(&fixture("valid.b64"), &sp(), &idp(), &expect()).is_ok(),
        "control"
    );
    // The valid response is for another SP's audience.
    assert_eq!(
        verify_response(&fixture("valid.b64"), &other_audience_sp, &idp(), &expect()),
        Err(SamlError::Audience)
    );
}

#[test]
fn only_configured_certificates_verify() {
    let mut attacker_only = idp();
    attacker_only.certificates_der = vec![cert("attacker.crt")];
    assert_eq!(
        verify_response(&fixture("valid.b64"), &sp(), &attacker_only, &expect()),
        Err(SamlError::BadSignature)
    );
    // Control: rotation, both certificates configured, accepts the trusted IdP's response...
    let mut both = idp();
    both.certificates_der = vec![cert("attacker.crt"), cert("idp.crt")];
    assert!(verify_response(&fixture("valid.b64"), &sp(), &both, &expect()).is_ok());
    // ...and the attacker's response is accepted only where the attacker's certificate is configured, so the
    // refusal above is about the key, not about the fixture.
    assert!(verify_response(
        &fixture("attacker_signed.b64"),
        &sp(),
        &attacker_only,
        &expect()
    )
    .is_ok());
    // No certificate at all is a configuration error, never an acceptance.
    let mut none = idp();
    none.certificates_der.clear();
    assert_eq!(
        verify_response(&fixture("valid.b64"), &sp(), &none, &expect()),
        Err(SamlError::Config)
    );
}

#[test]
fn unsolicited_responses_need_permission_and_no_in_response_to() {
    let unsolicited = Expectation {
        in_response_to: None,
        ..expect()
    };
    assert_eq!(
        verify_response(&fixture("unsolicited.b64"), &sp(), &idp(), &unsolicited),
        Err(SamlError::IdpInitiated)
    );
    let mut allowing = idp();
    allowing.allow_idp_initiated = true;
    let assertion =
        verify_response(&fixture("unsolicited.b64"), &sp(), &allowing, &unsolicited).unwrap();
    assert_eq!(assertion.in_response_to, None);
    // A solicited response replayed as unsolicited, and one answering another request, are refused.
    assert_eq!(
        verify_response(&fixture("valid.b64"), &sp(), &allowing, &unsolicited),
        Err(SamlError::InResponseTo)
    );
    let other = Expectation {
        in_response_to: Some("_ffffffffffffffffffffffffffffffff"),
        ..expect()
    };
    assert_eq!(
        verify_response(&fixture("valid.b64"), &sp(), &idp(), &other),
        Err(SamlError::InResponseTo)
    );
}

#[test]
fn time_window_with_skew() {
    let at = |now_unix_ms| Expectation {
        now_unix_ms,
        ..expect()
    };
    let check = |now| verify_response(&fixture("valid.b64"), &sp(), &idp(), &at(now)).map(|_| ());
    // NotBefore is NOW-60s, NotOnOrAfter NOW+300s (Conditions and SubjectConfirmationData), skew 60s.
    assert_eq!(
        check(NOW_MS - 60_000 - SKEW_MS - 1),
        Err(SamlError::NotYetValid)
    );
    assert_eq!(check(NOW_MS - 60_000 - SKEW_MS), Ok(()));
    assert_eq!(check(NOW_MS + 300_000 + SKEW_MS - 1), Ok(()));
    assert_eq!(check(NOW_MS + 300_000 + SKEW_MS), Err(SamlError::Expired));
    let short = |now| {
        verify_response(&fixture("short_confirmation.b64"), &sp(), &idp(), &at(now)).map(|_| ())
    };
    assert_eq!(short(NOW_MS + 60_000 + SKEW_MS - 1), Ok(()));
    assert_eq!(
        short(NOW_MS + 60_000 + SKEW_MS),
        Err(SamlError::Expired),
        "SubjectConfirmationData expiry"
    );
}

#[test]
fn error_codes_are_stable() {
    let codes: Vec<_> = [
        SamlError::Malformed,
        SamlError::UnsignedAssertion,
        SamlError::BadSignature,
        SamlError::Wrapped,
        SamlError::Issuer,
        SamlError::Status,
        SamlError::Audience,
        SamlError::Recipient,
        SamlError::Destination,
        SamlError::InResponseTo,
        SamlError::IdpInitiated,
        SamlError::NotYetValid,
        SamlError::Expired,
        SamlError::Unsupported,
        SamlError::Config,
    ]
    .iter()
    .map(SamlError::code)
    .collect();
    assert_eq!(
        codes,
        [
            "saml_malformed",
            "saml_unsigned_assertion",
            "saml_bad_signature",
            "saml_wrapped",
            "saml_issuer",
            "saml_status",
            "saml_audience",
            "saml_recipient",
            "saml_destination",
            "saml_in_response_to",
            "saml_idp_initiated",
            "saml_not_yet_valid",
            "saml_expired",
            "saml_unsupported",
            "saml_config",
        ]
    );
}

#[test]
fn in_response_to_must_come_from_a_signed_place() {
    // The assertion's SubjectConfirmationData carries no InResponseTo, so only the Response's says which
    // request this answers. Unsigned, that attribute could have been pasted onto a captured assertion.
    assert_eq!(
        verify_response(
            &fixture("confirmation_without_in_response_to.b64"),
            &sp(),
            &idp(),
            &expect()
        ),
        Err(SamlError::InResponseTo)
    );
    // Control: the same shape with the Response signed is accepted.
    let assertion = verify_response(
        &fixture("confirmation_without_in_response_to_both_signed.b64"),
        &sp(),
        &idp(),
        &expect(),
    )
    .unwrap();
    assert_eq!(assertion.in_response_to.as_deref(), Some(REQUEST_ID));
    // Control: an unsigned Response without InResponseTo is fine when the signed assertion carries it...
    let xml = xml("valid.b64");
    let bare = xml.replacen(
        &format!(" InResponseTo=\"{REQUEST_ID}\" Version"),
        " Version",
        1,
    );
    assert_ne!(bare, xml);
    let assertion = verify_response(&encode(&bare), &sp(), &idp(), &expect()).unwrap();
    assert_eq!(assertion.in_response_to.as_deref(), Some(REQUEST_ID));
    // ...but an unsigned Response naming another request is still refused.
    let other = xml.replacen(
        &format!(" InResponseTo=\"{REQUEST_ID}\" Version"),
        " InResponseTo=\"_x\" Version",
        1,
    );
    assert_ne!(other, xml);
    assert_eq!(
        verify_response(&encode(&other), &sp(), &idp(), &expect()),
        Err(SamlError::InResponseTo)
    );
}

#[test]
fn accepts_other_idps_shapes_signed_by_xmlsec1() {
    // Okta-like: pretty-printed, namespaces declared on the Assertion, an InclusiveNamespaces PrefixList="xs"
    // (xs is used only inside xsi:type values, so the digest matches only if the PrefixList is honoured),
    // fractional seconds, an escaped attribute value.
    let okta =
        verify_response(&fixture("okta_style.b64"), &sp(), &idp(), &expect()).expect("okta style");
    assert_eq!(okta.id, "id-okta-style-assertion");
    assert_eq!(okta.name_id, "alice@example.com");
    assert_eq!(okta.not_on_or_after_ms, NOW_MS + 300_123);
    assert_eq!(okta.session_index.as_deref(), Some("id-okta-style-session"));
    assert_eq!(okta.email(), Some("alice@example.com"));
    assert_eq!(
        okta.attributes[1],
        (
            "groups".to_owned(),
            vec!["R&D <core>".to_owned(), "Everyone".to_owned()]
        )
    );
    // ADFS-like: the assertion namespace as the default namespace, KeyInfo re-declaring the default namespace,
    // a persistent NameID, the WS-Federation e-mail claim.
    let adfs =
        verify_response(&fixture("adfs_style.b64"), &sp(), &idp(), &expect()).expect("adfs style");
    assert_eq!(adfs.id, "_adfs-style-assertion");
    assert_eq!(adfs.name_id, "AbC+dEf/123=");
    assert_eq!(
        adfs.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
    );
    assert_eq!(
        adfs.not_on_or_after_ms,
        NOW_MS + 300_456,
        "SubjectConfirmationData ends before Conditions"
    );
    assert_eq!(adfs.email(), Some("alice@example.com"));
    // Control: the same documents with a signed value changed are refused.
    for (name, from, to) in [
        ("okta_style.b64", "Everyone<", "Admins<"),
        ("adfs_style.b64", "S-1-5-21<", "S-1-5-32<"),
    ] {
        let tampered = replace_once(&xml(name), from, to);
        assert_eq!(
            verify_response(&encode(&tampered), &sp(), &idp(), &expect()),
            Err(SamlError::BadSignature),
            "{name}"
        );
    }
}
