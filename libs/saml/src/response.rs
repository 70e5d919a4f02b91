//! Verification of a SAML Response delivered by the HTTP-POST binding.
//!
//! Order: decode and parse, check the document's shape (one Assertion, the Response's direct child, unique IDs,
//! signatures only where they belong), verify the signatures, then read every value from the signed Assertion
//! element itself and check issuer, status, destination, InResponseTo, subject confirmation and conditions.

use std::collections::HashSet;

use roxmltree::{Document, Node};

use crate::dsig::{configured_keys, decode_base64, is_dsig, verify_enveloped};
use crate::time::parse_instant;
use crate::xml::{parse_xml, text_of};
use crate::{Assertion, Expectation, IdentityProvider, SamlError, ServiceProvider};

pub(crate) const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Largest accepted `SAMLResponse` form value (base64 text).
const MAX_RESPONSE_BYTES: usize = 512 * 1024;

fn is(node: Node<'_, '_>, namespace: &str, local: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(namespace)
        && node.tag_name().name() == local
}

fn saml(node: Node<'_, '_>, local: &str) -> bool {
    is(node, ASSERTION_NS, local)
}

/// At most one child element named `local` in the assertion namespace; two are `Malformed`.
fn optional_child<'a, 'i>(
    parent: Node<'a, 'i>,
    local: &str,
) -> Result<Option<Node<'a, 'i>>, SamlError> {
    let mut found = parent.children().filter(|n| saml(*n, local));
    match (found.next(), found.next()) {
        (first, None) => Ok(first),
        _ => Err(SamlError::Malformed),
    }
}

fn instant(node: Node<'_, '_>, attribute: &str) -> Result<Option<u64>, SamlError> {
    node.attribute(attribute).map(parse_instant).transpose()
}

/// Refuses duplicated IDs anywhere in the document: a second element with the signed ID is how signature
/// wrapping hides the signed copy from the code that reads values.
fn check_unique_ids(document: &Document<'_>) -> Result<(), SamlError> {
    let mut seen = HashSet::new();
    for node in document.descendants().filter(|n| n.is_element()) {
        for attribute in node.attributes() {
            let is_id = match attribute.namespace() {
                None => matches!(attribute.name(), "ID" | "Id" | "id" | "AssertionID"),
                Some(ns) => {
                    ns == "http://www.w3.org/XML/1998/namespace" && attribute.name() == "id"
                }
            };
            if is_id && !seen.insert(attribute.value()) {
                return Err(SamlError::Wrapped);
            }
        }
    }
    Ok(())
}

/// Verifies `saml_response` (the base64 `SAMLResponse` form value); see [`crate::verify_response`].
pub(crate) fn verify(
    saml_response: &str,
    sp: &ServiceProvider,
    idp: &IdentityProvider,
    expect: &Expectation<'_>,
) -> Result<Assertion, SamlError> {
    let keys = configured_keys(&idp.certificates_der)?;
    if saml_response.len() > MAX_RESPONSE_BYTES {
        return Err(SamlError::Malformed);
    }
    let bytes = decode_base64(saml_response)?;
    let xml = std::str::from_utf8(&bytes).map_err(|_| SamlError::Malformed)?;
    let document = parse_xml(xml)?;
    let response = document.root_element();
    if !is(response, PROTOCOL_NS, "Response") || response.attribute("Version") != Some("2.0") {
        return Err(SamlError::Malformed);
    }
    let response_id = response.attribute("ID").ok_or(SamlError::Malformed)?;
    check_unique_ids(&document)?;

    // Shape: status first (a failure carries no assertion), then exactly one Assertion, a direct child.
    let status = response
        .children()
        .find(|n| is(*n, PROTOCOL_NS, "Status"))
        .ok_or(SamlError::Malformed)?;
    let code = status
        .children()
        .find(|n| is(*n, PROTOCOL_NS, "StatusCode"))
        .ok_or(SamlError::Malformed)?;
    if code.attribute("Value") != Some(SUCCESS) {
        return Err(SamlError::Status);
    }
    if document
        .descendants()
        .any(|n| saml(n, "EncryptedAssertion") || saml(n, "EncryptedID"))
    {
        return Err(SamlError::Unsupported);
    }
    let assertions: Vec<_> = document
        .descendants()
        .filter(|n| saml(*n, "Assertion"))
        .collect();
    let assertion = match assertions.as_slice() {
        [] => return Err(SamlError::Malformed),
        [one] if one.parent() == Some(response) => *one,
        _ => return Err(SamlError::Wrapped),
    };
    let assertion_id = assertion.attribute("ID").ok_or(SamlError::Malformed)?;
    if assertion.attribute("Version") != Some("2.0") {
        return Err(SamlError::Malformed);
    }

    // Signatures: at most one on the Response, exactly one on the Assertion, none anywhere else.
    let signatures: Vec<_> = document
        .descendants()
        .filter(|n| is_dsig(*n, "Signature"))
        .collect();
    let response_signatures: Vec<_> = signatures
        .iter()
        .filter(|s| s.parent() == Some(response))
        .collect();
    let assertion_signatures: Vec<_> = signatures
        .iter()
        .filter(|s| s.parent() == Some(assertion))
        .collect();
    if response_signatures.len() + assertion_signatures.len() != signatures.len()
        || response_signatures.len() > 1
    {
        return Err(SamlError::Wrapped);
    }
    let assertion_signature = match assertion_signatures.as_slice() {
        [] => return Err(SamlError::UnsignedAssertion),
        [one] => **one,
        _ => return Err(SamlError::Wrapped),
    };
    if let Some(signature) = response_signatures.first() {
        verify_enveloped(response, response_id, **signature, &keys)?;
    }
    verify_enveloped(assertion, assertion_id, assertion_signature, &keys)?;

    // From here on every value comes from the signed Assertion (or the Response, when it is signed or when the
    // value only narrows what is accepted: Issuer, Destination, InResponseTo).
    let assertion_issuer = optional_child(assertion, "Issuer")?.ok_or(SamlError::Malformed)?;
    if text_of(assertion_issuer)? != idp.entity_id {
        return Err(SamlError::Issuer);
    }
    if let Some(issuer) = optional_child(response, "Issuer")? {
        if text_of(issuer)? != idp.entity_id {
            return Err(SamlError::Issuer);
        }
    }
    if let Some(destination) = response.attribute("Destination") {
        if destination != sp.acs_url {
            return Err(SamlError::Destination);
        }
    }
    let subject = optional_child(assertion, "Subject")?.ok_or(SamlError::Malformed)?;
    let confirmation = bearer_confirmation(subject, sp, expect)?;
    check_in_response_to(
        response.attribute("InResponseTo"),
        !response_signatures.is_empty(),
        confirmation.in_response_to,
        idp,
        expect,
    )?;
    let conditions_until = check_conditions(assertion, sp, expect)?;

    let name_id_node = optional_child(subject, "NameID")?.ok_or(SamlError::Malformed)?;
    let name_id = text_of(name_id_node)?;
    if name_id.is_empty() {
        return Err(SamlError::Malformed);
    }
    let session_index = match optional_child(assertion, "AuthnStatement")? {
        Some(statement) => statement.attribute("SessionIndex").map(str::to_owned),
        None => None,
    };
    Ok(Assertion {
        id: assertion_id.to_owned(),
        issuer: idp.entity_id.clone(),
        name_id,
        name_id_format: name_id_node.attribute("Format").map(str::to_owned),
        in_response_to: confirmation
            .in_response_to
            .or(response.attribute("InResponseTo"))
            .map(str::to_owned),
        not_on_or_after_ms: conditions_until.map_or(confirmation.not_on_or_after, |c| {
            c.min(confirmation.not_on_or_after)
        }),
        session_index,
        attributes: attributes(assertion)?,
    })
}

struct Confirmation<'a> {
    not_on_or_after: u64,
    in_response_to: Option<&'a str>,
}

/// The first bearer SubjectConfirmation whose data names our ACS URL as Recipient and is still valid.
/// None with our Recipient is `Recipient`; ours but past its NotOnOrAfter is `Expired`.
fn bearer_confirmation<'a>(
    subject: Node<'a, '_>,
    sp: &ServiceProvider,
    expect: &Expectation<'_>,
) -> Result<Confirmation<'a>, SamlError> {
    let mut error = SamlError::Recipient;
    for confirmation in subject
        .children()
        .filter(|n| saml(*n, "SubjectConfirmation"))
    {
        if confirmation.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = optional_child(confirmation, "SubjectConfirmationData")? else {
            continue;
        };
        if data.attribute("Recipient") != Some(sp.acs_url.as_str()) {
            continue;
        }
        let until = instant(data, "NotOnOrAfter")?.ok_or(SamlError::Malformed)?;
        if expect.now_unix_ms >= until.saturating_add(expect.skew_ms) {
            error = SamlError::Expired;
            continue;
        }
        if let Some(not_before) = instant(data, "NotBefore")? {
            if expect.now_unix_ms.saturating_add(expect.skew_ms) < not_before {
                error = SamlError::NotYetValid;
                continue;
            }
        }
        return Ok(Confirmation {
            not_on_or_after: until,
            in_response_to: data.attribute("InResponseTo"),
        });
    }
    Err(error)
}

/// Solicited responses must answer the request this login started, in a signed place (the assertion's
/// SubjectConfirmationData, or a signed Response): an unsigned Response's InResponseTo could be pasted onto a
/// captured assertion. Unsolicited ones must carry no InResponseTo at all and reach only an identity provider
/// that allows IdP-initiated login.
fn check_in_response_to(
    response: Option<&str>,
    response_signed: bool,
    confirmation: Option<&str>,
    idp: &IdentityProvider,
    expect: &Expectation<'_>,
) -> Result<(), SamlError> {
    match expect.in_response_to {
        Some(expected) => {
            // Every InResponseTo present must match, and at least one must be signed.
            if response.is_some_and(|r| r != expected)
                || confirmation.is_some_and(|c| c != expected)
            {
                return Err(SamlError::InResponseTo);
            }
            if confirmation.is_none() && !(response_signed && response.is_some()) {
                return Err(SamlError::InResponseTo);
            }
        }
        None => {
            if response.is_some() || confirmation.is_some() {
                return Err(SamlError::InResponseTo);
            }
            if !idp.allow_idp_initiated {
                return Err(SamlError::IdpInitiated);
            }
        }
    }
    Ok(())
}

/// Checks Conditions: the validity window with skew, and that every AudienceRestriction names us (at least
/// one is required). Returns Conditions' NotOnOrAfter, if any.
fn check_conditions(
    assertion: Node<'_, '_>,
    sp: &ServiceProvider,
    expect: &Expectation<'_>,
) -> Result<Option<u64>, SamlError> {
    let conditions = optional_child(assertion, "Conditions")?.ok_or(SamlError::Audience)?;
    if let Some(not_before) = instant(conditions, "NotBefore")? {
        if expect.now_unix_ms.saturating_add(expect.skew_ms) < not_before {
            return Err(SamlError::NotYetValid);
        }
    }
    let until = instant(conditions, "NotOnOrAfter")?;
    if let Some(until) = until {
        if expect.now_unix_ms >= until.saturating_add(expect.skew_ms) {
            return Err(SamlError::Expired);
        }
    }
    let mut restrictions = 0;
    for restriction in conditions
        .children()
        .filter(|n| saml(*n, "AudienceRestriction"))
    {
        restrictions += 1;
        let mut audiences = restriction.children().filter(|n| saml(*n, "Audience"));
        if !audiences.any(|a| text_of(a).is_ok_and(|text| text == sp.entity_id)) {
            return Err(SamlError::Audience);
        }
    }
    if restrictions == 0 {
        return Err(SamlError::Audience);
    }
    Ok(until)
}

/// Every Attribute of every AttributeStatement, by Name, with its values in document order.
fn attributes(assertion: Node<'_, '_>) -> Result<Vec<(String, Vec<String>)>, SamlError> {
    let mut attributes = Vec::new();
    for statement in assertion
        .children()
        .filter(|n| saml(*n, "AttributeStatement"))
    {
        for attribute in statement.children().filter(|n| saml(*n, "Attribute")) {
            let name = attribute.attribute("Name").ok_or(SamlError::Malformed)?;
            let values = attribute
                .children()
                .filter(|n| saml(*n, "AttributeValue"))
                .map(text_of)
                .collect::<Result<Vec<_>, _>>()?;
            attributes.push((name.to_owned(), values));
        }
    }
    Ok(attributes)
}
