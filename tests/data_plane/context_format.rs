//! The database and the contract agree on one context format (issue 22 item 5, migration 0014):
//! a token a key holder signed correctly, but with another version field or another number of
//! fields, opens nothing in Postgres, exactly as the contract's `verify` refuses it; and a short
//! unsigned token naming a real key yields no tenant instead of raising.

use hmac::{Hmac, Mac};
use tenant_contract::context::{verify, ContextError};
use tenant_contract::UnixMillis;

use super::{as_app, claims, migrate, seed, A, KEY};
use tenantgate_tests::postgres::PgCluster;

/// `<version>~k1~<fields joined by '~'>~<sig>`, with a valid HMAC-SHA256 under [`KEY`] of
/// everything before the signature: what only a key holder can make.
fn signed(version: &str, fields: &[String]) -> String {
    let head = format!("{version}~k1~{}~", fields.join("~"));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY).unwrap();
    mac.update(head.as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{head}{sig}")
}

/// The eleven payload fields the gateway signs for acme (shared, tasks.read and tasks.write).
fn acme_fields() -> Vec<String> {
    tenant_contract::context::payload_from_json(&claims(A, 300))
        .split('~')
        .map(str::to_owned)
        .collect()
}

/// What the database makes of `token` as the application role: the verified tenant, the rows
/// of `tenantgate.context_v2`, and acme's tasks visible (or the error).
async fn seen(pg: &PgCluster, token: &str) -> Result<Vec<String>, String> {
    as_app(
        pg,
        token,
        "SELECT coalesce(tenantgate.current_tenant_id()::text, 'none') \
         UNION ALL SELECT (SELECT count(*) FROM tenantgate.context_v2)::text \
         UNION ALL SELECT (SELECT count(*) FROM app.tasks)::text \
         UNION ALL SELECT coalesce(tenantgate.current_context()::text, 'null')",
    )
    .await
}

fn contract_verdict(token: &str) -> Result<(), ContextError> {
    let now = UnixMillis(tenantgate_tests::dataplane::unix_now() as u64 * 1000);
    verify(token, &[("k1", KEY)], now).map(|_| ())
}

#[tokio::test]
async fn the_database_refuses_every_version_and_field_count_the_contract_refuses() {
    let pg = PgCluster::start();
    migrate(&pg);
    seed(&pg);
    let fields = acme_fields();
    assert_eq!(fields.len(), 11);

    // Control: the format the gateway signs opens acme's rows, in the database and the contract.
    let good = signed("v2", &fields);
    assert_eq!(
        good,
        super::token("k1", KEY, A, 300),
        "the gateway's own token"
    );
    let rows = seen(&pg, &good).await.unwrap();
    assert_eq!(rows[..3], [A, "1", "2"], "{rows:?}");
    assert!(rows[3].contains(&format!("\"tid\": \"{A}\"")), "{rows:?}");
    assert!(contract_verdict(&good).is_ok());

    let mut twelve = fields.clone();
    twelve.push("extra".into());
    let ten = fields[..10].to_vec();
    let mut twelve_empty = fields.clone();
    twelve_empty.push(String::new());
    for (name, token) in [
        ("version v1", signed("v1", &fields)),
        ("version V2 (upper case)", signed("V2", &fields)),
        ("version v3", signed("v3", &fields)),
        ("no version", signed("", &fields)),
        ("version v2 with a space", signed("v2 ", &fields)),
        ("version v22", signed("v22", &fields)),
        ("15 fields", signed("v2", &twelve)),
        ("15 fields, the last empty", signed("v2", &twelve_empty)),
        ("13 fields", signed("v2", &ten)),
    ] {
        assert!(
            matches!(contract_verdict(&token), Err(ContextError::Malformed)),
            "{name}: the contract refuses it as malformed"
        );
        let rows = seen(&pg, &token)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rows, ["none", "0", "0", "null"], "{name}");
    }
}

#[tokio::test]
async fn a_short_unsigned_token_naming_a_real_key_yields_no_tenant_without_an_error() {
    let pg = PgCluster::start();
    migrate(&pg);
    seed(&pg);
    // Shorter than the 64 hex digits of a signature, with the real kid: migration 0012's
    // verification passed a negative length to substring() and raised SQLSTATE 22011.
    for token in [
        "v2~k1~x".to_owned(),
        "v2~k1".to_owned(),
        "v2~k1~".to_owned(),
        format!("v2~k1~{}", "0".repeat(56)),
        "x~k1".to_owned(),
    ] {
        assert!(contract_verdict(&token).is_err(), "{token}");
        let rows = seen(&pg, &token)
            .await
            .unwrap_or_else(|e| panic!("{token:?}: {e}"));
        assert_eq!(rows, ["none", "0", "0", "null"], "{token:?}");
    }
    // Control: a missing context is the same "no tenant", and acme's own token still opens its rows.
    assert_eq!(seen(&pg, "").await.unwrap(), ["none", "0", "0", "null"]);
    let good = super::token("k1", KEY, A, 300);
    assert_eq!(seen(&pg, &good).await.unwrap()[..3], [A, "1", "2"]);
}
