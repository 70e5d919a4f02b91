//! The data plane's schema, applied by `psql` to a real Postgres exactly as the
//! migrations README says, attacked through the application role.
//!
//! Every forbidden request is paired with an allowed one, so a policy that let
//! everything through, or nothing, fails here.

mod context_format;
mod isolation;
mod side_channels;
mod sizes;

use serde_json::json;
use tenantgate_tests::dataplane::{sign_context, unix_now};
use tenantgate_tests::postgres::PgCluster;

const KEY: &[u8] = b"test-key-test-key-test-key-32byt";
const LONG_KEY: &[u8] = &[0x5a; 100];
const A: &str = "a0000000-0000-4000-8000-000000000001";
const B: &str = "b0000000-0000-4000-8000-000000000002";

/// A context token as the gateway signs it: `v2~<kid>~<fields>~<sig>`.
fn token(kid: &str, key: &[u8], tid: &str, exp_offset: i64) -> String {
    sign_context(kid, key, &claims(tid, exp_offset))
}

/// base64url without padding (the v1 format's encoding, for the attack that sends one).
fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims the gateway puts in a token, expiring `exp_offset` seconds from now.
fn claims(tid: &str, exp_offset: i64) -> serde_json::Value {
    let exp = unix_now() + exp_offset;
    json!({
        "tid": tid, "slug": "t", "plc": "shared", "uid": null,
        "roles": ["admin"], "perms": ["tasks.read", "tasks.write"], "rid": "r1", "exp": exp,
    })
}

fn migrate(pg: &PgCluster) {
    // Each file twice in a row: every file is idempotent (a runner may retry one). Replaying
    // the whole sequence instead would run old definitions over newer ones (0008's
    // `sso_take` over 0011's, whose result type differs), which no runner does.
    use tenantgate_tests::dataplane::{apply, files_of_scope};
    for file in files_of_scope("database")
        .into_iter()
        .chain(files_of_scope("control"))
    {
        apply(pg, &file, "");
        apply(pg, &file, "");
    }
    for file in files_of_scope("tenant") {
        apply(pg, &file, "app");
        apply(pg, &file, "app");
    }
}

fn seed(pg: &PgCluster) {
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('k1', '\\x{}');
             INSERT INTO tenantgate.tenants (id, slug, name) VALUES ('{A}', 'acme', 'Acme'), ('{B}', 'globex', 'Globex');
             INSERT INTO app.projects (tenant_id, id, name) VALUES
               ('{A}', 'a1000000-0000-4000-8000-000000000001', 'Acme project'),
               ('{B}', 'b1000000-0000-4000-8000-000000000001', 'Globex project');
             INSERT INTO app.tasks (tenant_id, id, project_id, title) VALUES
               ('{A}', 'a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'acme 1'),
               ('{A}', 'a2000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000001', 'acme 2'),
               ('{B}', 'b2000000-0000-4000-8000-000000000001', 'b1000000-0000-4000-8000-000000000001', 'globex 1');",
            KEY.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    );
}

/// Runs `sql` as the application role inside a transaction bound to `context`;
/// returns the rows' first column as text, or the error message.
async fn as_app(pg: &PgCluster, context: &str, sql: &str) -> Result<Vec<String>, String> {
    let (mut client, conn) = tokio_postgres::connect(
        &pg.url_as("tenantgate_app", "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    tx.execute(
        "SELECT set_config('tenantgate.context', $1, true)",
        &[&context],
    )
    .await
    .map_err(|e| e.to_string())?;
    let rows = tx.simple_query(sql).await.map_err(|e| {
        e.as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_else(|| e.to_string())
    })?;
    let out = rows
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some(r.get(0).unwrap_or("NULL").to_owned())
            }
            _ => None,
        })
        .collect();
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(out)
}

#[tokio::test]
async fn migrations_apply_twice_and_rls_keeps_each_tenant_to_its_rows() {
    let pg = PgCluster::start();
    migrate(&pg);
    seed(&pg);
    let ta = token("k1", KEY, A, 300);
    let tb = token("k1", KEY, B, 300);
    let titles = "SELECT string_agg(title, ',' ORDER BY title) FROM app.tasks";

    // Controls: each tenant sees exactly its own rows.
    assert_eq!(as_app(&pg, &ta, titles).await.unwrap(), ["acme 1,acme 2"]);
    assert_eq!(as_app(&pg, &tb, titles).await.unwrap(), ["globex 1"]);

    // No, empty, forged, expired or unknown-key contexts see nothing (never everything), and
    // never raise: nothing is cast before the signature matched.
    let (ta_head, ta_sig) = ta.split_at(ta.len() - 64);
    let (tb_head, _) = tb.split_at(tb.len() - 64);
    let v1_format = {
        // The old format (v1.<kid>.<base64 JSON>.<base64 sig>), validly signed with the real key.
        use hmac::{Hmac, Mac};
        let payload = b64(claims(A, 300).to_string().as_bytes());
        let head = format!("v1.k1.{payload}");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY).unwrap();
        mac.update(head.as_bytes());
        format!("{head}.{}", b64(&mac.finalize().into_bytes()))
    };
    for (name, ctx) in [
        ("empty", String::new()),
        ("garbage", "not-a-token".to_owned()),
        ("forged signature", format!("{ta_head}{}", "0".repeat(64))),
        (
            "B's claims under A's signature",
            format!("{tb_head}{ta_sig}"),
        ),
        (
            "signature in upper case",
            format!("{ta_head}{}", ta_sig.to_uppercase()),
        ),
        ("signature one digit short", ta[..ta.len() - 1].to_owned()),
        ("a field after the signature", format!("{ta}~x")),
        ("a space in front", format!(" {ta}")),
        ("expired", token("k1", KEY, A, -1)),
        (
            "wrong key",
            token("k1", b"another-key-another-key-another!", A, 300),
        ),
        ("unknown kid", token("k9", KEY, A, 300)),
        ("the v1 format, signed with the key", v1_format),
        (
            "unsigned, with a tid and an exp that do not cast",
            format!("v2~k1~soon~acme~x~r~shared~~~t~~~~{}", "0".repeat(64)),
        ),
    ] {
        let n = as_app(&pg, &ctx, "SELECT count(*) FROM app.tasks")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n, ["0"], "{name}");
    }

    // Signed with a retired key: nothing. Each refused case differs from an allowed control only
    // in the point under test.
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate_private.context_keys (kid, key, retired_at) VALUES
               ('k0', '\\x{hex}', now() - interval '1 second'),
               ('k2', '\\x{hex}', now() + interval '1 hour'),
               ('k3', '\\x{long}', NULL);",
            hex = KEY.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            long = LONG_KEY
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    );
    let count = "SELECT count(*) FROM app.tasks";
    let with = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut c = claims(A, 300);
        edit(c.as_object_mut().unwrap());
        sign_context("k1", KEY, &c)
    };
    for (name, ctx) in [
        (
            "control: uid a uuid",
            with(&|c| drop(c.insert("uid".into(), json!(A)))),
        ),
        ("control: no uid", with(&|c| drop(c.remove("uid")))),
        ("control: a key retired later", token("k2", KEY, A, 300)),
        // Longer than SHA-256's 64-byte block: the pads are built from its hash (RFC 2104).
        ("control: a 100-byte key", token("k3", LONG_KEY, A, 300)),
        (
            "control: 3.7 KB token",
            with(&|c| drop(c.insert("rid".into(), json!("r".repeat(3600))))),
        ),
        // The database does not bound the length (the gateway never signs over 4096 bytes and
        // backends refuse to read more); a key holder's longer token verifies.
        (
            "control: 5 KB token",
            with(&|c| drop(c.insert("rid".into(), json!("r".repeat(5000))))),
        ),
        // Postgres reads only what a statement needs: the policy casts tid, not uid or plc.
        (
            "control: uid not a uuid, unused",
            with(&|c| drop(c.insert("uid".into(), json!("x")))),
        ),
        (
            "control: plc unknown (Postgres ignores it)",
            with(&|c| drop(c.insert("plc".into(), json!("elsewhere")))),
        ),
    ] {
        assert_eq!(
            as_app(&pg, &ctx, count)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}")),
            ["2"],
            "{name}"
        );
    }
    for (name, ctx) in [
        ("retired kid", token("k0", KEY, A, 300)),
        ("kid of 65 characters", token(&"k".repeat(65), KEY, A, 300)),
    ] {
        let n = as_app(&pg, &ctx, count)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n, ["0"], "{name}");
    }
    // Signed by a key holder but not castable: a data exception, never rows. Only the gateway
    // holds the key and its signer cannot build these; unsigned, the same fields give no rows
    // (above).
    for (name, ctx, expect) in [
        (
            "tid not a uuid",
            with(&|c| drop(c.insert("tid".into(), json!("acme")))),
            "invalid input syntax for type uuid",
        ),
        (
            "no tid",
            with(&|c| drop(c.remove("tid"))),
            "invalid input syntax for type uuid",
        ),
        (
            "exp not a number",
            with(&|c| drop(c.insert("exp".into(), json!("soon")))),
            "invalid input syntax for type bigint",
        ),
        (
            "no exp",
            with(&|c| drop(c.remove("exp"))),
            "invalid input syntax for type bigint",
        ),
    ] {
        let err = as_app(&pg, &ctx, count).await.expect_err(name);
        assert!(err.contains(expect), "{name}: {err}");
    }
    let odd_uid = with(&|c| drop(c.insert("uid".into(), json!("x"))));
    let err = as_app(&pg, &odd_uid, "SELECT tenantgate.current_user_id()")
        .await
        .expect_err("uid not a uuid, read");
    assert!(err.contains("invalid input syntax for type uuid"), "{err}");

    // What the other context functions read, for a full context and for none.
    let uid = with(&|c| {
        c.insert("uid".into(), json!(B));
        c.insert("ro".into(), json!(true));
    });
    assert_eq!(
        as_app(
            &pg,
            &uid,
            "SELECT concat_ws(' ', tenantgate.current_tenant_id(), tenantgate.current_user_id(), \
             tenantgate.current_request_id(), tenantgate.current_placement(), tenantgate.current_roles(), \
             tenantgate.current_permissions(), tenantgate.has_permission('tasks.write'), \
             tenantgate.has_permission('tasks.delete'), tenantgate.current_context() ->> 'slug', \
             tenantgate.current_context() -> 'ro')"
        )
        .await
        .unwrap(),
        [format!(
            "{A} {B} r1 shared {{admin}} {{tasks.read,tasks.write}} t f t true"
        )]
    );
    assert_eq!(
        as_app(
            &pg,
            "",
            "SELECT concat_ws(' ', coalesce(tenantgate.current_tenant_id()::text, '-'), \
             tenantgate.current_roles(), tenantgate.has_permission('tasks.read'), \
             coalesce(tenantgate.current_context()::text, '-'))"
        )
        .await
        .unwrap(),
        ["- {} f -"]
    );

    // Writes: A may insert its own row (control) but not one for B, nor move a row to B.
    let insert = |tid: &str| {
        format!("INSERT INTO app.projects (tenant_id, name) VALUES ('{tid}', 'new') RETURNING name")
    };
    assert_eq!(as_app(&pg, &ta, &insert(A)).await.unwrap(), ["new"]);
    let err = as_app(&pg, &ta, &insert(B)).await.unwrap_err();
    assert!(err.contains("row-level security"), "{err}");
    let err = as_app(
        &pg,
        &ta,
        &format!("UPDATE app.tasks SET tenant_id = '{B}' WHERE title = 'acme 1'"),
    )
    .await
    .unwrap_err();
    assert!(err.contains("row-level security"), "{err}");
    // A's update and delete of B's rows touch nothing; B's rows are unchanged.
    as_app(&pg, &ta, "UPDATE app.tasks SET title = 'pwned'; DELETE FROM app.projects WHERE name = 'Globex project'")
        .await
        .unwrap();
    assert_eq!(as_app(&pg, &tb, titles).await.unwrap(), ["globex 1"]);
    assert_eq!(
        as_app(&pg, &tb, "SELECT count(*) FROM app.projects")
            .await
            .unwrap(),
        ["1"]
    );
    // A forged set_config after a valid one replaces it with nothing.
    let n = as_app(
        &pg,
        &ta,
        "SELECT set_config('tenantgate.context', 'v1.k1.e30.AAAA', true); SELECT count(*) FROM app.tasks",
    )
    .await
    .unwrap();
    assert_eq!(n.last().map(String::as_str), Some("0"));

    // The application role cannot reach the key, bypass or escalate.
    for (name, sql, expect) in [
        (
            "read keys",
            "SELECT count(*) FROM tenantgate_private.context_keys",
            "permission denied",
        ),
        ("truncate", "TRUNCATE app.tasks", "permission denied"),
        (
            "create table",
            "CREATE TABLE app.x (y int)",
            "permission denied",
        ),
        (
            "disable rls",
            "ALTER TABLE app.tasks DISABLE ROW LEVEL SECURITY",
            "must be owner",
        ),
        (
            "become owner",
            "SET ROLE tenantgate_owner",
            "permission denied",
        ),
        (
            "row_security off",
            "SET LOCAL row_security = off; SELECT count(*) FROM app.tasks",
            "row-level security",
        ),
    ] {
        let err = as_app(&pg, &ta, sql).await.expect_err(name);
        assert!(err.contains(expect), "{name}: {err}");
    }
}
