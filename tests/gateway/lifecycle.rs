//! Lifecycle changes reach the gateway through its cache within seconds, and a control
//! plane that is down is a 503, never a request let through unchecked.

use std::time::Duration;

use crate::app::*;

/// The cache bound is 5 s; allow scheduling slack on a loaded machine.
const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn suspension_and_reactivation_take_effect_within_seconds() {
    let app = App::start().await;
    assert_eq!(
        app.get("acme.localhost:3000", "/api/tasks", &[]).await.0,
        200
    );
    app.pg.psql(
        "postgres",
        &format!("UPDATE tenantgate.tenants SET status = 'suspended', suspended_at = now() WHERE id = '{ACME}'"),
    );
    assert!(
        app.becomes("acme.localhost:3000", 403, WITHIN).await,
        "suspension not seen"
    );
    let (_, v) = app.get("acme.localhost:3000", "/api/tasks", &[]).await;
    assert_eq!(code(&v), "tenant_suspended");
    // Its data is kept, and the other tenant is untouched meanwhile.
    assert_eq!(
        app.pg.psql(
            "postgres",
            &format!("SELECT count(*) FROM app.tasks WHERE tenant_id = '{ACME}'")
        ),
        "2"
    );
    assert_eq!(
        app.get("globex.localhost:3000", "/api/tasks", &[]).await.0,
        200
    );
    app.pg.psql(
        "postgres",
        &format!("UPDATE tenantgate.tenants SET status = 'active', suspended_at = NULL WHERE id = '{ACME}'"),
    );
    assert!(
        app.becomes("acme.localhost:3000", 200, WITHIN).await,
        "reactivation not seen"
    );
    // Deletion: the uniform 404.
    app.pg.psql(
        "postgres",
        &format!(
            "UPDATE tenantgate.tenants SET status = 'deleted', deleted_at = now(), purge_after = now() + interval '30 days' \
             WHERE id = '{ACME}'"
        ),
    );
    assert!(
        app.becomes("acme.localhost:3000", 404, WITHIN).await,
        "deletion not seen"
    );
    let (_, v) = app.get("acme.localhost:3000", "/api/tasks", &[]).await;
    assert_eq!(code(&v), "unknown_tenant");
}

#[tokio::test]
async fn the_control_plane_down_is_a_503_and_recovery_needs_no_restart() {
    let app = App::start().await;
    assert_eq!(
        app.get("acme.localhost:3000", "/api/tasks", &[]).await.0,
        200
    );
    app.pg.stop();
    // globex was never looked up: the directory is needed, and it is down.
    let (s, v) = app.get("globex.localhost:3000", "/api/tasks", &[]).await;
    assert_eq!(
        (s, code(&v)),
        (503, "dependency_unavailable".to_owned()),
        "{v}"
    );
    // acme's entry may still be cached, but its data is in the same database: 503 too.
    let (s, v) = app.get("acme.localhost:3000", "/api/tasks", &[]).await;
    assert_eq!(
        (s, code(&v)),
        (503, "dependency_unavailable".to_owned()),
        "{v}"
    );
    // Nobody is let through unchecked: an unknown tenant is not a 200 either.
    assert_eq!(
        app.get("nobody.localhost:3000", "/api/tasks", &[]).await.0,
        503
    );
    app.pg.restart();
    let recovered = app.becomes("globex.localhost:3000", 200, WITHIN).await;
    assert!(
        recovered,
        "no recovery: {:?}",
        app.get("globex.localhost:3000", "/api/tasks", &[]).await
    );
    assert_eq!(
        app.get("acme.localhost:3000", "/api/tasks", &[]).await.0,
        200
    );
}
