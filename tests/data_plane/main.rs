//! The data plane's schema, applied by `psql` to a real Postgres exactly as the
//! migrations README says, attacked through the application role.
//!
//! Every forbidden request is paired with an allowed one, so a policy that let
//! everything through, or nothing, fails here.

mod isolation;
mod side_channels;

use serde_json::json;
use tenantgate_tests::dataplane::{b64, sign_context, sign_payload, unix_now};
use tenantgate_tests::postgres::PgCluster;

const KEY: &[u8] = b"test-key-test-key-test-key-32byt";
const A: &str = "a0000000-0000-4000-8000-000000000001";
const B: &str = "b0000000-0000-4000-8000-000000000002";

/// A context token as the gateway signs it: `v1.<kid>.<payload>.<sig>`.
fn token(kid: &str, key: &[u8], tid: &str, exp_offset: i64) -> String {
    sign_context(kid, key, &claims(tid, exp_offset))
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
    // Twice: every file is idempotent.
    for _round in 0..2 {
        tenantgate_tests::dataplane::control_plane(pg, &[]);
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

    // No, empty, forged, expired or unknown-key contexts see nothing (never everything).
    let forged = format!("{}.{}", ta.rsplit_once('.').unwrap().0, b64(&[0u8; 32]));
    let swapped = {
        let a: Vec<&str> = ta.split('.').collect();
        let b: Vec<&str> = tb.split('.').collect();
        format!("v1.k1.{}.{}", b[2], a[3])
    };
    for (name, ctx) in [
        ("empty", String::new()),
        ("garbage", "not-a-token".to_owned()),
        ("forged signature", forged),
        ("B's claims under A's signature", swapped),
        ("expired", token("k1", KEY, A, -1)),
        (
            "wrong key",
            token("k1", b"another-key-another-key-another!", A, 300),
        ),
        ("unknown kid", token("k9", KEY, A, 300)),
    ] {
        let n = as_app(&pg, &ctx, "SELECT count(*) FROM app.tasks")
            .await
            .unwrap();
        assert_eq!(n, ["0"], "{name}");
    }

    // Signed by a key holder but malformed, or signed with a retired key: nothing, and never an error.
    // Each refused case differs from an allowed control only in the point under test.
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate_private.context_keys (kid, key, retired_at) VALUES
               ('k0', '\\x{hex}', now() - interval '1 second'),
               ('k2', '\\x{hex}', now() + interval '1 hour');",
            hex = KEY.iter().map(|b| format!("{b:02x}")).collect::<String>()
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
        (
            "control: 3.7 KB token",
            with(&|c| drop(c.insert("rid".into(), json!("r".repeat(2600))))),
        ),
    ] {
        assert!(ctx.len() < 4096, "{name}");
        assert_eq!(as_app(&pg, &ctx, count).await.unwrap(), ["2"], "{name}");
    }
    for (name, ctx) in [
        ("retired kid", token("k0", KEY, A, 300)),
        ("kid of 65 characters", token(&"k".repeat(65), KEY, A, 300)),
        ("a fifth part", format!("{ta}.x")),
        (
            "token over 4096 bytes",
            with(&|c| drop(c.insert("rid".into(), json!("r".repeat(3200))))),
        ),
        (
            "payload not base64url",
            sign_payload("k1", KEY, "eyJ0aWQ*In0"),
        ),
        (
            "payload of impossible length",
            sign_payload("k1", KEY, "eyJ0a"),
        ),
        (
            "payload not UTF-8",
            sign_payload("k1", KEY, &b64(&[b'{', 0xff, 0xfe, b'}'])),
        ),
        (
            "payload not JSON",
            sign_payload("k1", KEY, &b64(b"not json")),
        ),
        (
            "payload a JSON array",
            sign_context("k1", KEY, &json!([claims(A, 300)])),
        ),
        (
            "payload with a NUL escape",
            with(&|c| drop(c.insert("rid".into(), json!("\u{0}")))),
        ),
        (
            "tid not a uuid",
            with(&|c| drop(c.insert("tid".into(), json!("acme")))),
        ),
        (
            "tid a number",
            with(&|c| drop(c.insert("tid".into(), json!(5)))),
        ),
        ("no tid", with(&|c| drop(c.remove("tid")))),
        (
            "uid not a uuid",
            with(&|c| drop(c.insert("uid".into(), json!("x")))),
        ),
        (
            "uid a number",
            with(&|c| drop(c.insert("uid".into(), json!(7)))),
        ),
        (
            "exp a string",
            with(&|c| drop(c.insert("exp".into(), json!(c["exp"].to_string())))),
        ),
        ("no exp", with(&|c| drop(c.remove("exp")))),
        (
            "plc unknown",
            with(&|c| drop(c.insert("plc".into(), json!("elsewhere")))),
        ),
        (
            "slug not a string",
            with(&|c| drop(c.insert("slug".into(), json!(1)))),
        ),
        (
            "roles not an array",
            with(&|c| drop(c.insert("roles".into(), json!("admin")))),
        ),
    ] {
        let n = as_app(&pg, &ctx, count)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n, ["0"], "{name}");
    }

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
