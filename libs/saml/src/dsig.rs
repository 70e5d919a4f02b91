//! XML-DSig verification of one enveloped signature, narrowed to what SAML needs and nothing more:
//! exactly one Reference to the enveloping element's ID, the enveloped-signature and exc-c14n transforms only,
//! RSA PKCS#1 v1.5 with SHA-256 or SHA-512, and keys from the configured certificates only (KeyInfo is ignored).

use base64::Engine as _;
use roxmltree::Node;
use rsa::{pkcs8::DecodePublicKey as _, Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest as _, Sha256, Sha512};
use x509_cert::der::{Decode as _, Encode as _};

use crate::c14n::canonicalize;
use crate::SamlError;

pub(crate) const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

/// Smallest RSA modulus accepted in a configured certificate.
const MIN_RSA_BITS: usize = 2048;

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// The RSA public keys of the configured certificates. Fails with `Config` when a certificate does not parse,
/// is not RSA, or is weaker than 2048 bits: a broken configuration denies every login.
pub(crate) fn configured_keys(
    certificates_der: &[Vec<u8>],
) -> Result<Vec<RsaPublicKey>, SamlError> {
    if certificates_der.is_empty() {
        return Err(SamlError::Config);
    }
    certificates_der.iter().map(|der| rsa_key(der)).collect()
}

fn rsa_key(der: &[u8]) -> Result<RsaPublicKey, SamlError> {
    let certificate = x509_cert::Certificate::from_der(der).map_err(|_| SamlError::Config)?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| SamlError::Config)?;
    let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| SamlError::Config)?;
    if rsa::traits::PublicKeyParts::size(&key) * 8 < MIN_RSA_BITS {
        return Err(SamlError::Config);
    }
    Ok(key)
}

pub(crate) fn is_dsig(node: Node<'_, '_>, local: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(DSIG_NS)
        && node.tag_name().name() == local
}

/// The one child element of `parent` named `local` in the DSig namespace; a missing or repeated child is
/// `Malformed`.
fn one_child<'a, 'i>(parent: Node<'a, 'i>, local: &str) -> Result<Node<'a, 'i>, SamlError> {
    let mut found = parent.children().filter(|n| is_dsig(*n, local));
    match (found.next(), found.next()) {
        (Some(node), None) => Ok(node),
        _ => Err(SamlError::Malformed),
    }
}

fn algorithm<'a>(node: Node<'a, '_>) -> Result<&'a str, SamlError> {
    node.attribute("Algorithm").ok_or(SamlError::Malformed)
}

/// The PrefixList of an exc-c14n `InclusiveNamespaces` child of `method`, if any.
fn inclusive_prefixes(method: Node<'_, '_>) -> Vec<String> {
    method
        .children()
        .filter(|n| n.is_element() && n.tag_name().namespace() == Some(EXC_C14N))
        .filter(|n| n.tag_name().name() == "InclusiveNamespaces")
        .filter_map(|n| n.attribute("PrefixList"))
        .flat_map(|list| {
            list.split_ascii_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, SamlError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Malformed)
}

/// Checks that `signature`, a ds:Signature child of `signed`, signs exactly `signed` (whose ID attribute is
/// `signed_id`) with one of `keys`.
///
/// Refuses: anything but one Reference whose URI is `#signed_id` (`Wrapped`); transforms other than
/// enveloped-signature followed by exc-c14n, SHA-1 or other algorithms, ds:Object children (`Unsupported`);
/// a digest or signature value that does not match (`BadSignature`).
pub(crate) fn verify_enveloped(
    signed: Node<'_, '_>,
    signed_id: &str,
    signature: Node<'_, '_>,
    keys: &[RsaPublicKey],
) -> Result<(), SamlError> {
    if signature.parent() != Some(signed) {
        return Err(SamlError::Wrapped);
    }
    for child in signature.children().filter(|n| n.is_element()) {
        if !(is_dsig(child, "SignedInfo")
            || is_dsig(child, "SignatureValue")
            || is_dsig(child, "KeyInfo"))
        {
            return Err(SamlError::Unsupported);
        }
    }
    let signed_info = one_child(signature, "SignedInfo")?;
    let c14n_method = one_child(signed_info, "CanonicalizationMethod")?;
    if algorithm(c14n_method)? != EXC_C14N {
        return Err(SamlError::Unsupported);
    }
    let signature_hash = match algorithm(one_child(signed_info, "SignatureMethod")?)? {
        RSA_SHA256 => Hash::Sha256,
        RSA_SHA512 => Hash::Sha512,
        _ => return Err(SamlError::Unsupported),
    };
    let reference = match one_child(signed_info, "Reference") {
        Ok(reference) => reference,
        Err(_) => return Err(SamlError::Wrapped),
    };
    if reference.attribute("URI") != Some(&format!("#{signed_id}")) {
        return Err(SamlError::Wrapped);
    }
    let transforms: Vec<_> = one_child(reference, "Transforms")?
        .children()
        .filter(|n| n.is_element())
        .collect();
    let [enveloped, exc] = transforms.as_slice() else {
        return Err(SamlError::Unsupported);
    };
    if !is_dsig(*enveloped, "Transform") || !is_dsig(*exc, "Transform") {
        return Err(SamlError::Malformed);
    }
    if algorithm(*enveloped)? != ENVELOPED || algorithm(*exc)? != EXC_C14N {
        return Err(SamlError::Unsupported);
    }
    let digest_hash = match algorithm(one_child(reference, "DigestMethod")?)? {
        SHA256 => Hash::Sha256,
        SHA512 => Hash::Sha512,
        _ => return Err(SamlError::Unsupported),
    };
    let expected_digest =
        decode_base64(&crate::xml::text_of(one_child(reference, "DigestValue")?)?)?;
    let canonical = canonicalize(signed, Some(signature.id()), &inclusive_prefixes(*exc))?;
    if digest_hash.digest(&canonical) != expected_digest {
        return Err(SamlError::BadSignature);
    }
    let signature_value = decode_base64(&crate::xml::text_of(one_child(
        signature,
        "SignatureValue",
    )?)?)?;
    let canonical_info = canonicalize(signed_info, None, &inclusive_prefixes(c14n_method))?;
    let hashed = signature_hash.digest(&canonical_info);
    let scheme = || match signature_hash {
        Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
    };
    if keys
        .iter()
        .any(|key| key.verify(scheme(), &hashed, &signature_value).is_ok())
    {
        Ok(())
    } else {
        Err(SamlError::BadSignature)
    }
}
