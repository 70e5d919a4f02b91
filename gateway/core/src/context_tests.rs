use super::*;
use crate::fakes::sample_tenant;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn claims() -> ContextClaims {
    let t = sample_tenant("acme");
    ContextClaims {
        tid: t.id,
        slug: t.slug,
        plc: PlacementKind::Schema,
        db: Some("eu-1".into()),
        sch: Some("tenant_acme".into()),
        uid: None,
        roles: vec!["member".parse().unwrap()],
        perms: vec!["tasks.read".parse().unwrap()],
        rid: "req-1".parse().unwrap(),
        exp: 1_700_000_030,
        ro: false,
    }
}

#[test]
fn the_wire_format_is_exactly_what_postgres_verifies() {
    let signer = ContextSigner::new("k1", KEY).unwrap();
    let token = signer.sign(&claims());
    let parts: Vec<&str> = token.as_str().split('.').collect();
    assert_eq!(parts.len(), 4);
    assert_eq!((parts[0], parts[1], parts[3].len()), ("v1", "k1", 43));
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let want = format!(
        concat!(
            r#"{{"tid":"{}","slug":"acme","plc":"schema","db":"eu-1","sch":"tenant_acme","#,
            r#""uid":null,"roles":["member"],"perms":["tasks.read"],"rid":"req-1","exp":1700000030}}"#
        ),
        sample_tenant("acme").id
    );
    assert_eq!(json, want);
    // The signature is HMAC-SHA256 over "v1.<kid>.<payload>", computed independently here.
    let mut mac = HmacSha256::new_from_slice(KEY).unwrap();
    mac.update(format!("v1.k1.{}", parts[2]).as_bytes());
    assert_eq!(
        parts[3],
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    assert!(!token.as_str().contains('='));
}

#[test]
fn a_known_answer_pins_the_format() {
    // Fixed input, fixed output: a change to field order, encoding or MAC breaks this.
    let c = ContextClaims {
        tid: "00000000-0000-4000-8000-000000000001".parse().unwrap(),
        slug: "acme".parse().unwrap(),
        plc: PlacementKind::Shared,
        db: None,
        sch: None,
        uid: Some(uuid::Uuid::nil()),
        roles: vec![],
        perms: vec![],
        rid: "r".parse().unwrap(),
        exp: 1,
        ro: false,
    };
    let token = ContextSigner::new("k1", KEY).unwrap().sign(&c);
    let payload = URL_SAFE_NO_PAD.encode(
        r#"{"tid":"00000000-0000-4000-8000-000000000001","slug":"acme","plc":"shared","db":null,"sch":null,"uid":"00000000-0000-0000-0000-000000000000","roles":[],"perms":[],"rid":"r","exp":1}"#,
    );
    assert!(token.as_str().starts_with(&format!("v1.k1.{payload}.")));
}

#[test]
fn short_keys_and_bad_kids_are_refused() {
    assert_eq!(
        ContextSigner::new("k1", &KEY[..31]).map(|_| ()),
        Err(ContextError::KeyTooShort)
    );
    assert!(ContextSigner::new("k1", &KEY[..32]).is_ok());
    for kid in ["", "a.b", "a b", &"k".repeat(65)] {
        assert_eq!(
            ContextSigner::new(kid, KEY).map(|_| ()),
            Err(ContextError::BadKid),
            "{kid:?}"
        );
    }
}

#[test]
fn verification_refuses_tampering_other_keys_and_expiry() {
    let token = ContextSigner::new("k1", KEY).unwrap().sign(&claims());
    let keys: &[(&str, &[u8])] = &[("k1", KEY)];
    let before = UnixMillis(1_700_000_029_999);
    assert_eq!(verify(token.as_str(), keys, before), Ok(claims()));
    assert_eq!(decode_unverified(token.as_str()), Ok(claims()));
    assert_eq!(
        verify(token.as_str(), keys, UnixMillis(1_700_000_030_000)),
        Err(ContextError::Expired)
    );
    let other_key: &[(&str, &[u8])] = &[("k1", b"fedcba9876543210fedcba9876543210")];
    assert_eq!(
        verify(token.as_str(), other_key, before),
        Err(ContextError::BadSignature)
    );
    assert_eq!(
        verify(token.as_str(), &[("k2", KEY)], before),
        Err(ContextError::BadSignature)
    );
    let mut forged = claims();
    forged.slug = "globex".parse().unwrap();
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let parts: Vec<&str> = token.as_str().split('.').collect();
    let spliced = format!("v1.k1.{forged_payload}.{}", parts[3]);
    assert_eq!(
        verify(&spliced, keys, before),
        Err(ContextError::BadSignature)
    );
    for bad in [
        "",
        "v1.k1.x",
        "v2.k1.eyJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.k1.eyJ9.short",
    ] {
        assert_eq!(
            decode_unverified(bad),
            Err(ContextError::Malformed),
            "{bad}"
        );
    }
}
