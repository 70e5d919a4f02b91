//! The data plane's schema, applied by `psql` to a real Postgres exactly as the
//! migrations README says, attacked through the application role.
//!
//! Every forbidden request is paired with an allowed one, so a policy that let
//! everything through, or nothing, fails here.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tenantgate_tests::postgres::PgCluster;
use tenantgate_tests::workspace_root;

const KEY: &[u8] = b"test-key-test-key-test-key-32byt";
const A: &str = "a0000000-0000-4000-8000-000000000001";
const B: &str = "b0000000-0000-4000-8000-000000000002";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A context token as the gateway signs it: `v1.<kid>.<payload>.<sig>`.
fn token(kid: &str, key: &[u8], tid: &str, exp_offset: i64) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + exp_offset;
    let claims = json!({
        "tid": tid, "slug": "t", "plc": "shared", "uid": null,
        "roles": ["admin"], "perms": ["tasks.read", "tasks.write"], "rid": "r1", "exp": exp,
    });
    let head = format!("v1.{kid}.{}", b64(claims.to_string().as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(head.as_bytes());
    format!("{head}.{}", b64(&mac.finalize().into_bytes()))
}

fn migrate(pg: &PgCluster) {
    let dir = workspace_root().join("migrations");
    for _round in 0..2 {
        for (file, opts) in [
            ("0001_roles_and_keys.sql", ""),
            ("0002_control_plane.sql", ""),
            ("0003_tenant_data.sql", "-c search_path=app"),
        ] {
            pg.apply_file("postgres", &dir.join(file), opts)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        }
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
