//! `tenantgate tenant suspend|reactivate` through the real binary and the real gateway: a
//! suspended tenant is refused with 403 `tenant_suspended` within the cache bound while its data and
//! the other tenant are untouched; reactivation serves it again; each change is one audit event;
//! a change that does not fit the tenant's status (twice, a deleted tenant, an unknown slug) is
//! refused and changes nothing.

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
    w.control_sql(
        "UPDATE tenantgate.tenants SET status = 'deleted', deleted_at = now(), \
         purge_after = now() + interval '30 days' WHERE slug = 'globex'",
    );
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
