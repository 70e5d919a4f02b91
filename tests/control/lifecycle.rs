//! `tenantgate tenant suspend|reactivate|delete|restore|purge|export` through the real binary
//! (and, for the first four, the real gateway): a suspended tenant is refused with 403 `tenant_suspended` within the cache bound while
//! its data and the other tenant are untouched; reactivation serves it again; a deleted tenant
//! answers the uniform 404 with its data kept for the grace period, and restoring it within that
//! period brings it back as it was; each change is one audit event; a change that does not fit the
//! tenant's status (twice, a deleted tenant, after the grace period, an unknown slug, a bad grace
//! period) is refused and changes nothing. A purge takes a deleted tenant past its grace period out
//! of every placement and the control plane and leaves everyone else's rows; an export writes all a
//! tenant owns and nothing of anyone else's, with a manifest that checks.

use sha2::Digest as _;

use crate::cli::World;
use crate::domains::{becomes, failed, tasks, tg, world};
use crate::moves::start_gateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_and_reactivation_through_the_cli() {
    let w = world();
    let gw = start_gateway(&w).await;
    let acme = "acme.localhost";
    assert_eq!(tasks(&gw, acme).await.0, 200);
    let events = |action: &str| {
        w.control_sql(&format!(
            "SELECT count(*) FROM tenantgate.audit_log a JOIN tenantgate.tenants t ON t.id = a.tenant_id \
              WHERE t.slug = 'acme' AND a.action = '{action}' AND a.actor_kind = 'platform_admin'"
        ))
    };
    let status = |slug: &str| {
        w.control_sql(&format!(
            "SELECT status FROM tenantgate.tenants WHERE slug = '{slug}'"
        ))
    };

    // Suspended: refused within the bound, data kept, the other tenant served.
    let out = tg(
        &w,
        &["tenant", "suspend", "acme", "--reason", "unpaid invoice"],
    )
    .ok();
    assert!(
        out.stdout.contains("suspended tenant acme"),
        "{}",
        out.stdout
    );
    assert!(
        becomes(&gw, acme, 403).await.is_some(),
        "suspension not seen"
    );
    let (_, body) = tasks(&gw, acme).await;
    assert_eq!(body["error"]["code"], "tenant_suspended", "{body}");
    assert_eq!(tasks(&gw, "globex.localhost").await.0, 200);
    assert_eq!(
        w.control_sql(
            "SELECT count(*) FROM app.tasks k JOIN tenantgate.tenants t ON t.id = k.tenant_id WHERE t.slug = 'acme'"
        ),
        "1"
    );
    assert_eq!(events("tenant.suspended"), "1");
    assert_eq!(
        w.control_sql(
            "SELECT detail->>'reason' FROM tenantgate.audit_log WHERE action = 'tenant.suspended'"
        ),
        "unpaid invoice"
    );
    let list = tg(&w, &["tenant", "list"]).ok();
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with("acme "))
        .unwrap();
    assert!(line.contains("suspended"), "{line}");

    // Suspending again is refused and records nothing.
    failed(&tg(&w, &["tenant", "suspend", "acme"]), "is suspended");
    assert_eq!(events("tenant.suspended"), "1");

    // Reactivated: served again; reactivating twice is refused.
    let out = tg(&w, &["tenant", "reactivate", "acme"]).ok();
    assert!(
        out.stdout.contains("reactivated tenant acme"),
        "{}",
        out.stdout
    );
    assert!(
        becomes(&gw, acme, 200).await.is_some(),
        "reactivation not seen"
    );
    assert_eq!(
        tasks(&gw, acme).await,
        (200, serde_json::json!(["acme task"]))
    );
    assert_eq!(status("acme"), "active");
    assert_eq!(
        w.control_sql(
            "SELECT count(*) FROM tenantgate.tenants WHERE slug = 'acme' AND suspended_at IS NULL"
        ),
        "1"
    );
    assert_eq!(events("tenant.reactivated"), "1");
    failed(&tg(&w, &["tenant", "reactivate", "acme"]), "is active");
    assert_eq!(events("tenant.reactivated"), "1");

    // A deleted tenant is neither suspended nor reactivated here; an unknown slug is an error.
    tg(&w, &["tenant", "delete", "globex"]).ok();
    failed(&tg(&w, &["tenant", "suspend", "globex"]), "is deleted");
    failed(&tg(&w, &["tenant", "reactivate", "globex"]), "is deleted");
    assert_eq!(status("globex"), "deleted");
    failed(
        &tg(&w, &["tenant", "suspend", "nobody"]),
        "no tenant with slug",
    );
    assert_eq!(
        w.control_sql(
            "SELECT count(*) FROM tenantgate.audit_log WHERE action IN ('tenant.suspended', 'tenant.reactivated')"
        ),
        "2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_keeps_the_data_for_the_grace_period_and_restore_brings_the_tenant_back() {
    let w = world();
    let gw = start_gateway(&w).await;
    let acme = "acme.localhost";
    assert_eq!(tasks(&gw, acme).await.0, 200);
    let sql = |q: &str| w.control_sql(q);
    let status = |slug: &str| {
        sql(&format!(
            "SELECT status FROM tenantgate.tenants WHERE slug = '{slug}'"
        ))
    };
    let acme_tasks =
        "SELECT count(*) FROM app.tasks k JOIN tenantgate.tenants t ON t.id = k.tenant_id \
                      WHERE t.slug = 'acme'";

    // A grace period out of range is refused before anything happens.
    for bad in ["0", "366"] {
        failed(
            &tg(&w, &["tenant", "delete", "acme", "--grace-days", bad]),
            "grace period must be 1 to 365 days",
        );
    }
    assert_eq!(status("acme"), "active");

    // Deleted: the uniform 404 within the bound, the data kept, purge in 7 days, audited.
    let out = tg(&w, &["tenant", "delete", "acme", "--grace-days", "7"]).ok();
    assert!(
        out.stdout.contains("deleted tenant acme") && out.stdout.contains("tenant restore acme"),
        "{}",
        out.stdout
    );
    assert!(becomes(&gw, acme, 404).await.is_some(), "deletion not seen");
    let (_, body) = tasks(&gw, acme).await;
    assert_eq!(body["error"]["code"], "unknown_tenant", "{body}");
    assert_eq!(tasks(&gw, "globex.localhost").await.0, 200);
    assert_eq!(sql(acme_tasks), "1");
    assert_eq!(
        sql(
            "SELECT purge_after BETWEEN now() + interval '7 days' - interval '5 minutes' \
                 AND now() + interval '7 days' FROM tenantgate.tenants WHERE slug = 'acme'"
        ),
        "t"
    );
    assert_eq!(
        sql(
            "SELECT detail->>'grace_days' || ' ' || (detail->>'from') FROM tenantgate.audit_log \
              WHERE action = 'tenant.deleted'"
        ),
        "7 active"
    );
    let show = tg(&w, &["tenant", "show", "acme"]).ok();
    assert!(show.stdout.contains("purge:     after "), "{}", show.stdout);
    failed(&tg(&w, &["tenant", "delete", "acme"]), "is deleted");
    failed(&tg(&w, &["tenant", "suspend", "acme"]), "is deleted");
    failed(&tg(&w, &["tenant", "restore", "globex"]), "is active");

    // Restored within the grace period: served again, the deletion undone.
    let out = tg(&w, &["tenant", "restore", "acme"]).ok();
    assert!(
        out.stdout.contains("restored tenant acme"),
        "{}",
        out.stdout
    );
    assert!(becomes(&gw, acme, 200).await.is_some(), "restore not seen");
    assert_eq!(
        tasks(&gw, acme).await,
        (200, serde_json::json!(["acme task"]))
    );
    assert_eq!(
        sql(
            "SELECT status || ' ' || (deleted_at IS NULL) || ' ' || (purge_after IS NULL) \
              FROM tenantgate.tenants WHERE slug = 'acme'"
        ),
        "active true true"
    );

    // A tenant deleted while suspended comes back suspended.
    tg(&w, &["tenant", "suspend", "globex"]).ok();
    tg(&w, &["tenant", "delete", "globex"]).ok();
    assert_eq!(
        sql(
            "SELECT detail->>'from' FROM tenantgate.audit_log a JOIN tenantgate.tenants t \
              ON t.id = a.tenant_id WHERE t.slug = 'globex' AND a.action = 'tenant.deleted'"
        ),
        "suspended"
    );
    let out = tg(&w, &["tenant", "restore", "globex"]).ok();
    assert!(out.stdout.contains("suspended"), "{}", out.stdout);
    assert_eq!(status("globex"), "suspended");
    assert!(
        becomes(&gw, "globex.localhost", 403).await.is_some(),
        "globex not suspended again"
    );

    // After the grace period a deleted tenant cannot be restored.
    tg(&w, &["tenant", "delete", "acme", "--grace-days", "1"]).ok();
    sql("UPDATE tenantgate.tenants SET purge_after = now() - interval '1 second' WHERE slug = 'acme'");
    failed(
        &tg(&w, &["tenant", "restore", "acme"]),
        "can no longer be restored",
    );
    assert_eq!(status("acme"), "deleted");
    assert_eq!(sql(acme_tasks), "1");
    assert_eq!(
        sql("SELECT string_agg(action, ',' ORDER BY id) FROM tenantgate.audit_log a \
              WHERE action LIKE 'tenant.%' AND action <> 'tenant.created'"),
        "tenant.deleted,tenant.restored,tenant.suspended,tenant.deleted,tenant.restored,tenant.deleted"
    );
}

/// A project and a task for `slug` in `schema` of the database `psql` runs in.
fn seed(psql: impl Fn(&str) -> String, id: &str, schema: &str, title: &str) {
    psql(&format!(
        "WITH p AS (INSERT INTO {schema}.projects (tenant_id, name) VALUES ('{id}', 'p') RETURNING tenant_id, id) \
         INSERT INTO {schema}.tasks (tenant_id, project_id, title) SELECT tenant_id, id, '{title}' FROM p"
    ));
}

/// Tenant `hooli` in a schema of its own, with one project and one task; its id.
fn hooli(w: &World) -> String {
    tg(
        w,
        &[
            "tenant",
            "create",
            "hooli",
            "--name",
            "Hooli",
            "--placement",
            "schema",
        ],
    )
    .ok();
    let id = w.control_sql("SELECT id FROM tenantgate.tenants WHERE slug = 'hooli'");
    seed(|q| w.control_sql(q), &id, "tenant_hooli", "hooli task");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_a_deleted_tenant_after_its_grace_period_and_nothing_else() {
    let w = world();
    let sql = |q: &str| w.control_sql(q);
    let id = |slug: &str| {
        sql(&format!(
            "SELECT id FROM tenantgate.tenants WHERE slug = '{slug}'"
        ))
    };
    tg(
        &w,
        &[
            "tenant",
            "create",
            "umbrella",
            "--name",
            "Umbrella",
            "--placement",
            "dedicated",
            "--database",
            "eu",
        ],
    )
    .ok();
    let hooli = hooli(&w);
    let (acme, globex, umbrella) = (id("acme"), id("globex"), id("umbrella"));
    seed(
        |q| w.eu.psql("postgres", q).trim().to_string(),
        &umbrella,
        "app",
        "umbrella task",
    );
    tg(&w, &["domain", "add", "acme", "portal.acme.test"]).ok();
    sql(&format!(
        "WITH u AS (INSERT INTO tenantgate.users (email) VALUES ('ann@example.test') RETURNING id) \
         INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name) \
         SELECT t, u.id, 'admin' FROM u, unnest(ARRAY['{acme}', '{globex}']::uuid[]) AS t"
    ));
    let control_rows = |t: &str| {
        sql(&format!(
            "SELECT (SELECT count(*) FROM tenantgate.tenants WHERE id = '{t}') || ' ' || \
                    (SELECT count(*) FROM tenantgate.tenant_placements WHERE tenant_id = '{t}') || ' ' || \
                    (SELECT count(*) FROM tenantgate.tenant_domains WHERE tenant_id = '{t}') || ' ' || \
                    (SELECT count(*) FROM tenantgate.roles WHERE tenant_id = '{t}') || ' ' || \
                    (SELECT count(*) FROM tenantgate.memberships WHERE tenant_id = '{t}')"
        ))
    };
    let shared_tasks = |t: &str| {
        sql(&format!(
            "SELECT count(*) FROM app.tasks WHERE tenant_id = '{t}'"
        ))
    };
    assert_eq!(control_rows(&acme), "1 1 1 3 1");

    // Refused, changing nothing: not deleted, within the grace period, unknown.
    failed(
        &tg(&w, &["tenant", "purge", "acme"]),
        "only a deleted tenant is purged",
    );
    tg(&w, &["tenant", "delete", "acme"]).ok();
    failed(
        &tg(&w, &["tenant", "purge", "acme"]),
        "within its grace period",
    );
    failed(
        &tg(&w, &["tenant", "purge", "nobody"]),
        "no tenant with slug",
    );
    let none = tg(&w, &["tenant", "purge", "--due"]).ok();
    assert!(
        none.stdout
            .contains("no deleted tenant is past its grace period"),
        "{}",
        none.stdout
    );
    assert_eq!(control_rows(&acme), "1 1 1 3 1");
    assert_eq!(shared_tasks(&acme), "1");

    // Past the grace period: its rows and control-plane entries go; the other tenants' rows, the
    // user (a member elsewhere) and the audit trail stay.
    sql("UPDATE tenantgate.tenants SET purge_after = now() - interval '1 second' WHERE slug = 'acme'");
    let out = tg(&w, &["tenant", "purge", "acme"]).ok();
    assert!(
        out.stdout.contains("purged tenant acme") && out.stdout.contains("tasks 1"),
        "{}",
        out.stdout
    );
    assert_eq!(control_rows(&acme), "0 0 0 0 0");
    assert_eq!(shared_tasks(&acme), "0");
    assert_eq!(
        sql(&format!(
            "SELECT count(*) FROM app.projects WHERE tenant_id = '{acme}'"
        )),
        "0"
    );
    assert_eq!(shared_tasks(&globex), "1");
    assert_eq!(control_rows(&globex), "1 1 0 3 1");
    assert_eq!(
        sql("SELECT count(*) FROM tenantgate.users WHERE email = 'ann@example.test'"),
        "1"
    );
    assert_eq!(
        sql(&format!(
            "SELECT string_agg(action, ',' ORDER BY id) FROM tenantgate.audit_log WHERE tenant_id = '{acme}' \
              AND action LIKE 'tenant.%'"
        )),
        "tenant.created,tenant.deleted,tenant.purged"
    );
    failed(&tg(&w, &["tenant", "purge", "acme"]), "no tenant with slug");

    // --due: every tenant past its grace period, in its own schema or its own database.
    tg(&w, &["tenant", "delete", "hooli"]).ok();
    tg(&w, &["tenant", "delete", "umbrella"]).ok();
    sql(
        "UPDATE tenantgate.tenants SET purge_after = now() - interval '1 second' \
         WHERE slug IN ('hooli', 'umbrella')",
    );
    let schema_records =
        "SELECT count(*) FROM tenantgate.schema_migrations WHERE placement LIKE '%tenant_hooli%'";
    assert_ne!(sql(schema_records), "0");
    let out = tg(&w, &["tenant", "purge", "--due"]).ok();
    assert!(
        out.stdout.contains("purged tenant hooli") && out.stdout.contains("its schema dropped"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("purged tenant umbrella"),
        "{}",
        out.stdout
    );
    assert_eq!(
        sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_hooli'"),
        "0"
    );
    assert_eq!(sql(schema_records), "0");
    assert_eq!(
        w.eu.psql(
            "postgres",
            &format!("SELECT count(*) FROM app.tasks WHERE tenant_id = '{umbrella}'")
        )
        .trim(),
        "0"
    );
    assert_eq!(control_rows(&hooli), "0 0 0 0 0");
    assert_eq!(control_rows(&umbrella), "0 0 0 0 0");
    assert_eq!(shared_tasks(&globex), "1");

    // The slug is free again, and the new tenant starts empty.
    tg(&w, &["tenant", "create", "acme", "--name", "Acme again"]).ok();
    assert_ne!(id("acme"), acme);
    assert_eq!(shared_tasks(&id("acme")), "0");
}

/// The lines of an exported file, parsed.
fn ndjson(dir: &std::path::Path, path: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_everything_a_tenant_owns_and_nothing_of_anyone_else() {
    let w = world();
    let sql = |q: &str| w.control_sql(q);
    let id = |slug: &str| {
        sql(&format!(
            "SELECT id FROM tenantgate.tenants WHERE slug = '{slug}'"
        ))
    };
    let (acme, globex) = (id("acme"), id("globex"));
    // A title that a naive line format would break: newline, quotes, backslash, non-ASCII.
    let tricky = "line one\nline \"two\" \\ ünïcode ✓";
    sql(&format!(
        "INSERT INTO app.tasks (tenant_id, project_id, title) \
         SELECT tenant_id, id, $t${tricky}$t$ FROM app.projects WHERE tenant_id = '{acme}'"
    ));
    tg(&w, &["domain", "add", "acme", "portal.acme.test"]).ok();
    sql(&format!(
        "WITH u AS (INSERT INTO tenantgate.users (email) VALUES ('ann@example.test') RETURNING id) \
         INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name) \
         SELECT t, u.id, 'admin' FROM u, unnest(ARRAY['{acme}', '{globex}']::uuid[]) AS t"
    ));
    sql(&format!(
        "INSERT INTO tenantgate.invitations (tenant_id, email, role_name, token_hash, expires_at) \
         VALUES ('{acme}', 'bob@example.test', 'member', sha256('secret'), now() + interval '7 days')"
    ));
    let base = tempfile::tempdir().unwrap();

    // Never over existing files.
    let busy = base.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), "mine").unwrap();
    failed(
        &tg(
            &w,
            &["tenant", "export", "acme", "--out", busy.to_str().unwrap()],
        ),
        "is not empty",
    );
    assert_eq!(
        std::fs::read_to_string(busy.join("keep.txt")).unwrap(),
        "mine"
    );
    failed(
        &tg(
            &w,
            &[
                "tenant",
                "export",
                "nobody",
                "--out",
                base.path().join("x").to_str().unwrap(),
            ],
        ),
        "no tenant with slug",
    );

    // A deleted tenant (within its grace period) exports: that is what the grace period is for.
    tg(&w, &["tenant", "delete", "acme"]).ok();
    let out = base.path().join("acme");
    let run = tg(
        &w,
        &["tenant", "export", "acme", "--out", out.to_str().unwrap()],
    )
    .ok();
    assert!(
        run.stdout.contains("exported tenant acme"),
        "{}",
        run.stdout
    );

    let tasks = ndjson(&out, "data/tasks.ndjson");
    let mut titles: Vec<&str> = tasks.iter().map(|t| t["title"].as_str().unwrap()).collect();
    titles.sort();
    assert_eq!(titles, vec!["acme task", tricky]);
    assert!(
        tasks.iter().all(|t| t["tenant_id"] == acme.as_str()),
        "{tasks:?}"
    );
    let projects = ndjson(&out, "data/projects.ndjson");
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0]["tenant_id"], acme.as_str());
    assert_eq!(
        ndjson(&out, "control/domains.ndjson")[0]["domain"],
        "portal.acme.test"
    );
    let members = ndjson(&out, "control/members.ndjson");
    assert_eq!(members.len(), 1);
    assert_eq!(
        (
            members[0]["email"].as_str(),
            members[0]["role_name"].as_str()
        ),
        (Some("ann@example.test"), Some("admin"))
    );
    let invitations = ndjson(&out, "control/invitations.ndjson");
    assert_eq!(invitations[0]["email"], "bob@example.test");
    assert!(
        invitations[0].get("token_hash").is_none(),
        "{invitations:?}"
    );
    // The system roles of migration 0010: owner and admin hold the whole catalogue.
    const ALL: &str = r#"["audit.read","domains.manage","members.manage","members.read","roles.manage","sso.manage","tasks.read","tasks.write","usage.read"]"#;
    let mut roles: Vec<String> = ndjson(&out, "control/roles.ndjson")
        .iter()
        .map(|r| format!("{} {}", r["name"].as_str().unwrap(), r["permissions"]))
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec![
            format!("admin {ALL}"),
            r#"member ["members.read","tasks.read","tasks.write"]"#.to_string(),
            format!("owner {ALL}"),
        ]
    );
    let audit: Vec<String> = ndjson(&out, "control/audit_log.ndjson")
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(audit.contains(&"tenant.deleted".to_owned()), "{audit:?}");

    // Nothing of the other tenant anywhere in the export.
    let mut everything = String::new();
    for sub in ["control", "data"] {
        for f in std::fs::read_dir(out.join(sub)).unwrap() {
            everything += &std::fs::read_to_string(f.unwrap().path()).unwrap();
        }
    }
    assert!(
        !everything.contains(&globex),
        "globex's id in acme's export"
    );
    assert!(
        !everything.contains("globex"),
        "globex's data in acme's export"
    );

    // The manifest names every file with its rows and its sha256.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "tenantgate-export/1");
    assert_eq!(manifest["tenant"]["slug"], "acme");
    assert_eq!(manifest["tenant"]["status"], "deleted");
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 7, "{files:?}");
    for f in files {
        let path = f["path"].as_str().unwrap();
        let bytes = std::fs::read(out.join(path)).unwrap();
        let digest: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(f["sha256"], digest.as_str(), "{path}");
        assert_eq!(
            f["rows"],
            bytes.iter().filter(|b| **b == b'\n').count(),
            "{path}"
        );
    }
    assert_eq!(
        sql(&format!(
            "SELECT detail->'rows'->>'data/tasks.ndjson' FROM tenantgate.audit_log \
              WHERE tenant_id = '{acme}' AND action = 'tenant.exported'"
        )),
        "2"
    );

    // A tenant in its own schema exports the same way.
    hooli(&w);
    let out = base.path().join("hooli");
    tg(
        &w,
        &["tenant", "export", "hooli", "--out", out.to_str().unwrap()],
    )
    .ok();
    let tasks = ndjson(&out, "data/tasks.ndjson");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "hooli task");
}
