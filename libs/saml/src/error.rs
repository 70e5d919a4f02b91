//! What stops a SAML exchange, with stable codes for logs and client-safe responses.

/// Why a SAML message was refused. Each variant maps to one stable snake_case [`code`](SamlError::code);
/// the `Display` text is fixed and safe to show, it never echoes attacker-controlled input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    /// Not base64, not well-formed XML, a DTD, missing or duplicated required elements, bad timestamps.
    #[error("the SAML message is malformed")]
    Malformed,
    /// The assertion carries no signature (a signature on the Response alone is not enough).
    #[error("the SAML assertion is not signed")]
    UnsignedAssertion,
    /// A signature or digest does not verify with any configured certificate.
    #[error("the SAML signature does not verify")]
    BadSignature,
    /// The signed element is not the element used, IDs repeat, or elements are where they must not be.
    #[error("the SAML message has a wrapped or misplaced signed element")]
    Wrapped,
    /// The Response or Assertion Issuer is not the configured identity provider.
    #[error("the SAML issuer is not the configured identity provider")]
    Issuer,
    /// The Response status is not Success.
    #[error("the identity provider did not report success")]
    Status,
    /// No AudienceRestriction names this service provider.
    #[error("the SAML assertion is not meant for this service provider")]
    Audience,
    /// No bearer SubjectConfirmation names this service provider's ACS URL as Recipient.
    #[error("the SAML subject confirmation recipient is not this service provider")]
    Recipient,
    /// The Response Destination is not this service provider's ACS URL.
    #[error("the SAML response destination is not this service provider")]
    Destination,
    /// InResponseTo does not match the request this login started with.
    #[error("the SAML response does not answer the expected request")]
    InResponseTo,
    /// An unsolicited (IdP-initiated) response reached an identity provider that does not allow it.
    #[error("identity-provider-initiated login is not allowed")]
    IdpInitiated,
    /// Conditions NotBefore is in the future (beyond the allowed skew).
    #[error("the SAML assertion is not yet valid")]
    NotYetValid,
    /// Conditions or SubjectConfirmationData NotOnOrAfter has passed (beyond the allowed skew).
    #[error("the SAML assertion has expired")]
    Expired,
    /// Encrypted assertions, SHA-1 or other algorithms and transforms this verifier does not accept.
    #[error("the SAML message uses an unsupported feature")]
    Unsupported,
    /// A configured certificate or metadata document cannot be used.
    #[error("the SAML configuration is invalid")]
    Config,
}

impl SamlError {
    /// The stable machine-readable code, e.g. `saml_bad_signature`.
    pub fn code(&self) -> &'static str {
        match self {
            SamlError::Malformed => "saml_malformed",
            SamlError::UnsignedAssertion => "saml_unsigned_assertion",
            SamlError::BadSignature => "saml_bad_signature",
            SamlError::Wrapped => "saml_wrapped",
            SamlError::Issuer => "saml_issuer",
            SamlError::Status => "saml_status",
            SamlError::Audience => "saml_audience",
            SamlError::Recipient => "saml_recipient",
            SamlError::Destination => "saml_destination",
            SamlError::InResponseTo => "saml_in_response_to",
            SamlError::IdpInitiated => "saml_idp_initiated",
            SamlError::NotYetValid => "saml_not_yet_valid",
            SamlError::Expired => "saml_expired",
            SamlError::Unsupported => "saml_unsupported",
            SamlError::Config => "saml_config",
        }
    }
}
