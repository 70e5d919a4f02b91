//! SAML metadata: reading an identity provider's, writing ours, and reading certificates given by hand.

use base64::Engine as _;
use roxmltree::Node;
use x509_cert::der::{Decode as _, DecodePem as _, Encode as _};

use crate::dsig::{decode_base64, is_dsig};
use crate::request::xml_escape;
use crate::xml::{parse_xml, text_of};
use crate::{IdpMetadata, SamlError, ServiceProvider};

const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

fn md(node: Node<'_, '_>, local: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(METADATA_NS)
        && node.tag_name().name() == local
}

/// Reads an EntityDescriptor (or an EntitiesDescriptor holding exactly one identity provider) and returns its
/// entity ID, HTTP-Redirect SSO location and signing certificates. Unparseable XML is `Malformed`; metadata
/// without an IDPSSODescriptor, a redirect SSO service or a signing certificate is `Config`.
pub(crate) fn parse_idp(xml: &str) -> Result<IdpMetadata, SamlError> {
    let document = parse_xml(xml)?;
    let root = document.root_element();
    let entities: Vec<_> = if md(root, "EntityDescriptor") {
        vec![root]
    } else if md(root, "EntitiesDescriptor") {
        root.descendants()
            .filter(|n| md(*n, "EntityDescriptor"))
            .collect()
    } else {
        return Err(SamlError::Config);
    };
    let idps: Vec<_> = entities
        .iter()
        .filter_map(|entity| {
            entity
                .children()
                .find(|n| md(*n, "IDPSSODescriptor"))
                .map(|idp| (*entity, idp))
        })
        .collect();
    let [(entity, descriptor)] = idps.as_slice() else {
        return Err(SamlError::Config);
    };
    let entity_id = entity
        .attribute("entityID")
        .filter(|id| !id.is_empty())
        .ok_or(SamlError::Config)?;
    let sso_redirect_url = descriptor
        .children()
        .filter(|n| md(*n, "SingleSignOnService"))
        .find(|n| n.attribute("Binding") == Some(REDIRECT_BINDING))
        .and_then(|n| n.attribute("Location"))
        .ok_or(SamlError::Config)?;
    let mut certificates_der = Vec::new();
    for key in descriptor.children().filter(|n| md(*n, "KeyDescriptor")) {
        if key.attribute("use").is_some_and(|usage| usage != "signing") {
            continue;
        }
        for certificate in key.descendants().filter(|n| is_dsig(*n, "X509Certificate")) {
            let der = decode_base64(&text_of(certificate)?).map_err(|_| SamlError::Config)?;
            x509_cert::Certificate::from_der(&der).map_err(|_| SamlError::Config)?;
            if !certificates_der.contains(&der) {
                certificates_der.push(der);
            }
        }
    }
    if certificates_der.is_empty() {
        return Err(SamlError::Config);
    }
    Ok(IdpMetadata {
        entity_id: entity_id.to_owned(),
        sso_redirect_url: sso_redirect_url.to_owned(),
        certificates_der,
    })
}

/// Our EntityDescriptor: one SPSSODescriptor with an HTTP-POST AssertionConsumerService.
pub(crate) fn sp(sp: &ServiceProvider) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<md:EntityDescriptor xmlns:md="{md}" entityID="{entity}">"#,
            r#"<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" "#,
            r#"protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
            r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" "#,
            r#"Location="{acs}" index="0" isDefault="true"/>"#,
            "</md:SPSSODescriptor></md:EntityDescriptor>\n"
        ),
        md = METADATA_NS,
        entity = xml_escape(&sp.entity_id),
        acs = xml_escape(&sp.acs_url),
    )
}

/// Certificates from DER bytes, PEM text (any number of CERTIFICATE blocks) or bare base64 (as copied out of
/// metadata). Every certificate must parse as X.509; none found is `Config`.
pub(crate) fn certificates(input: &[u8]) -> Result<Vec<Vec<u8>>, SamlError> {
    if input.first() == Some(&0x30) {
        x509_cert::Certificate::from_der(input).map_err(|_| SamlError::Config)?;
        return Ok(vec![input.to_vec()]);
    }
    let text = std::str::from_utf8(input).map_err(|_| SamlError::Config)?;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certificates = Vec::new();
    if text.contains(BEGIN) {
        let mut rest = text;
        while let Some(start) = rest.find(BEGIN) {
            let end = rest[start..].find(END).ok_or(SamlError::Config)? + start + END.len();
            let certificate = x509_cert::Certificate::from_pem(&rest[start..end])
                .map_err(|_| SamlError::Config)?;
            certificates.push(certificate.to_der().map_err(|_| SamlError::Config)?);
            rest = &rest[end..];
        }
    } else {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| SamlError::Config)?;
        x509_cert::Certificate::from_der(&der).map_err(|_| SamlError::Config)?;
        certificates.push(der);
    }
    if certificates.is_empty() {
        return Err(SamlError::Config);
    }
    Ok(certificates)
}
