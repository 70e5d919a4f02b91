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

/// Known answers: the signatures were computed outside this crate (Python's `hmac` module,
/// HMAC-SHA256 over every byte before the signature), so a change to the field order, the
/// separators or the MAC input breaks these.
#[test]
fn known_answers_pin_the_format() {
    let signer = ContextSigner::new("k1", KEY).unwrap();
    assert_eq!(
        signer.sign(&claims()).as_str(),
        "v2~k1~1700000030~0b3a6f2e-51b7-4c9d-8e1f-0123456789ab~~req-1~schema~eu-1~tenant_acme~acme~\
         member~tasks.read~~df264374309f90d532dc94903765937d2e8dff057079f836ebd78ab5585c8963"
    );
    let shared = ContextClaims {
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
    assert_eq!(
        signer.sign(&shared).as_str(),
        "v2~k1~1~00000000-0000-4000-8000-000000000001~00000000-0000-0000-0000-000000000000~r~shared~~~\
         acme~~~~ba5a8617d4467b67a4eac03efa2e4e56dd15c643950ceff09cd2f9fbaffe842c"
    );
    let moving = ContextClaims {
        placement: Placement::Dedicated {
            database_target: "eu-1".parse().unwrap(),
        },
        roles: vec!["member".parse().unwrap(), "owner".parse().unwrap()],
        perms: vec![
            "tasks.read".parse().unwrap(),
            "tasks.write".parse().unwrap(),
        ],
        ro: true,
        ..claims()
    };
    assert_eq!(
        signer.sign(&moving).as_str(),
        "v2~k1~1700000030~0b3a6f2e-51b7-4c9d-8e1f-0123456789ab~~req-1~dedicated~eu-1~~acme~\
         member,owner~tasks.read,tasks.write~1~274925e426745d8601e72bc1c0e9f783d1063749972ce20c915760f111371cc2"
    );
    for c in [claims(), shared, moving] {
        let token = signer.sign(&c);
        assert_eq!(decode_unverified(token.as_str()), Ok(c));
        assert!(token.as_str().is_ascii());
    }
}

#[test]
fn the_signature_covers_every_byte_before_it() {
    let signer = ContextSigner::new("k1", KEY).unwrap();
    let token = signer.sign(&claims()).into_string();
    let (head, sig) = token.split_at(token.len() - 64);
    assert!(head.ends_with('~'));
    let mut mac = HmacSha256::new_from_slice(KEY).unwrap();
    mac.update(head.as_bytes());
    let mut want = String::new();
    push_hex(&mut want, &mac.finalize().into_bytes());
    assert_eq!(sig, want);
}

#[test]
fn short_keys_and_bad_kids_are_refused() {
    assert_eq!(
        ContextSigner::new("k1", &KEY[..31]).map(|_| ()),
        Err(ContextError::KeyTooShort)
    );
    assert!(ContextSigner::new("k1", &KEY[..32]).is_ok());
    for kid in ["", "a.b", "a b", "a~b", &"k".repeat(65)] {
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
    // Another tenant's slug under this token's signature.
    let sig = &token.as_str()[token.as_str().len() - 64..];
    let mut forged = claims();
    forged.slug = "globex".parse().unwrap();
    let spliced = format!("v2~k1~{}~{sig}", encode_payload(&forged));
    assert_eq!(decode_unverified(&spliced), Ok(forged));
    assert_eq!(
        verify(&spliced, keys, before),
        Err(ContextError::BadSignature)
    );
    // One hex digit of the signature changed.
    let mut flipped = token.clone().into_string();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        verify(&flipped, keys, before),
        Err(ContextError::BadSignature)
    );
}

#[test]
fn only_tokens_of_the_exact_shape_decode() {
    let good = ContextSigner::new("k1", KEY)
        .unwrap()
        .sign(&claims())
        .into_string();
    let sig = good[good.len() - 64..].to_owned();
    let with = |payload: &str| format!("v2~k1~{payload}~{sig}");
    let payload = encode_payload(&claims());
    assert!(decode_unverified(&with(&payload)).is_ok(), "control");
    let edit = |i: usize, v: &str| {
        let mut f: Vec<&str> = payload.split('~').collect();
        f[i] = v;
        with(&f.join("~"))
    };
    for (name, bad) in [
        ("empty", String::new()),
        (
            "v1 token",
            "v1.k1.eyJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        ),
        ("v3", good.replacen("v2~", "v3~", 1)),
        ("a field short", good.replacen("~req-1~", "~", 1)),
        ("a field over", format!("{}~x", good)),
        (
            "upper-case sig",
            good.to_uppercase().replacen("V2~K1~", "v2~k1~", 1),
        ),
        ("short sig", good[..good.len() - 1].to_owned()),
        ("bad kid", good.replacen("~k1~", "~k.1~", 1)),
        ("over 4096 bytes", edit(3, &"r".repeat(4096))),
        ("exp not a number", edit(0, "soon")),
        ("exp signed", edit(0, "+1700000030")),
        ("exp past i64", edit(0, "9223372036854775808")),
        ("tid not a uuid", edit(1, "acme")),
        ("uid not a uuid", edit(2, "x")),
        ("rid with a space", edit(3, "a b")),
        ("plc unknown", edit(4, "elsewhere")),
        ("schema without sch", edit(6, "")),
        ("slug upper case", edit(7, "ACME")),
        ("role with a dot", edit(8, "a.b")),
        ("empty role", edit(8, "member,")),
        ("perm without a dot", edit(9, "tasks")),
        ("ro not 1", edit(10, "true")),
    ] {
        assert_eq!(
            decode_unverified(&bad),
            Err(ContextError::Malformed),
            "{name}"
        );
    }
}

#[test]
fn payload_from_json_writes_the_fields_as_given() {
    let json = serde_json::to_value(claims()).unwrap();
    assert_eq!(payload_from_json(&json), encode_payload(&claims()));
    let odd = serde_json::json!({"tid": 5, "exp": "x", "roles": ["a", 1], "ro": true});
    assert_eq!(payload_from_json(&odd), "x~5~~~~~~~a,1~~1");
    assert_eq!(payload_from_json(&serde_json::json!([1])), "~~~~~~~~~~");
}

#[test]
fn claims_serialise_as_the_json_object_postgres_returns() {
    let json = serde_json::to_string(&claims()).unwrap();
    let want = format!(
        concat!(
            r#"{{"tid":"{}","slug":"acme","plc":"schema","db":"eu-1","sch":"tenant_acme","#,
            r#""uid":null,"roles":["member"],"perms":["tasks.read"],"rid":"req-1","exp":1700000030}}"#
        ),
        ACME
    );
    assert_eq!(json, want);
    let back: ContextClaims = serde_json::from_str(&json).unwrap();
    assert_eq!(back, claims());
    for bad in [
        r#"{"tid":"x","slug":"acme","plc":"shared","rid":"r","exp":9}"#.to_owned(),
        format!(r#"{{"tid":"{ACME}","slug":"acme","plc":"elsewhere","rid":"r","exp":9}}"#),
        format!(r#"{{"tid":"{ACME}","slug":"acme","plc":"schema","sch":"app","rid":"r","exp":9}}"#),
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
    let payload = encode_payload(&claims());
    assert_eq!(
        sign_unchecked("k1", KEY, &payload),
        ContextSigner::new("k1", KEY)
            .unwrap()
            .sign(&claims())
            .into_string()
    );
    let long_kid = "k".repeat(65);
    let odd = sign_unchecked(&long_kid, b"short", &payload);
    assert!(odd.starts_with(&format!("v2~{long_kid}~")));
    assert_eq!(decode_unverified(&odd), Err(ContextError::Malformed));
}
