use super::*;
use crate::placement::Placement;

const ACME: &str = "0b3a6f2e-51b7-4c9d-8e1f-0123456789ab";

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn claims() -> ContextClaims {
    ContextClaims {
        tid: ACME.parse().unwrap(),
        slug: "acme".parse().unwrap(),
        placement: Placement::Schema {
            database_target: Some("eu-1".parse().unwrap()),
            schema: "tenant_acme".parse().unwrap(),
        },
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
        ACME
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
        placement: Placement::Shared,
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

#[test]
fn sign_payload_signs_exactly_the_given_payload() {
    let signer = ContextSigner::new("k1", KEY).unwrap();
    let json = serde_json::to_vec(&claims()).unwrap();
    assert_eq!(
        signer.sign_payload(&encode_payload(&json)),
        signer.sign(&claims())
    );
    // Not base64url at all, still signed as given (for attack tests).
    let odd = signer.sign_payload("eyJ0aWQ*In0");
    assert!(odd.as_str().starts_with("v1.k1.eyJ0aWQ*In0."));
}

#[test]
fn claims_read_what_postgres_reads_and_nothing_it_refuses() {
    // Optional claims may be absent, as Postgres reads them as NULL.
    let lean = format!(
        r#"{{"tid":"{ACME}","slug":"acme","plc":"shared","rid":"r","exp":9,"roles":[],"perms":[]}}"#
    );
    let c: ContextClaims = serde_json::from_str(&lean).unwrap();
    assert_eq!((c.placement, c.uid, c.ro), (Placement::Shared, None, false));
    for bad in [
        r#"{"tid":"x","slug":"acme","plc":"shared","rid":"r","exp":9}"#.to_owned(),
        format!(r#"{{"tid":"{ACME}","slug":"acme","plc":"elsewhere","rid":"r","exp":9}}"#),
        format!(r#"{{"tid":"{ACME}","slug":"acme","plc":"schema","sch":"app","rid":"r","exp":9}}"#),
        format!(r#"{{"tid":"{ACME}","slug":"acme","plc":"dedicated","rid":"r","exp":9}}"#),
        format!(r#"{{"tid":"{ACME}","slug":"ACME","plc":"shared","rid":"r","exp":9}}"#),
    ] {
        assert!(
            serde_json::from_str::<ContextClaims>(&bad).is_err(),
            "{bad}"
        );
    }
    assert!(claims().has_permission("tasks.read"));
    assert!(!claims().has_permission("tasks.write"));
}

#[test]
fn unchecked_signing_is_the_same_mac_for_any_kid_and_key() {
    let payload = encode_payload(&serde_json::to_vec(&claims()).unwrap());
    assert_eq!(
        sign_unchecked("k1", KEY, &payload),
        ContextSigner::new("k1", KEY)
            .unwrap()
            .sign(&claims())
            .into_string()
    );
    let long_kid = "k".repeat(65);
    let odd = sign_unchecked(&long_kid, b"short", &payload);
    assert!(odd.starts_with(&format!("v1.{long_kid}.")));
    assert_eq!(decode_unverified(&odd), Err(ContextError::Malformed));
}
