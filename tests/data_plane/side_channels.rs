//! Issue 12, attacked through raw connections: the shared-role side channels PostgreSQL can
//! refuse (migration 0006, and the global audit id of 0007), and audit events a tenant cannot
//! forge. Each refusal sits beside an allowed control, for acme and then for globex.

use crate::isolation::{check, ctx, world, ANN, BOB, CAROL};
use crate::{A, B};

#[tokio::test]
async fn shared_role_side_channels_are_refused() {
    let pg = world();
    for tid in [A, B] {
        let c = ctx(tid, None);
        check(&pg, "tenantgate_app", &c, &[
            ("control: its own pid", "SELECT (pg_backend_pid() > 0)::text".into(), Ok(vec!["true"])),
            ("other sessions' statements", "SELECT count(query) FROM pg_stat_activity".into(), Err("permission denied")),
            ("statement text by function", "SELECT pg_stat_get_backend_activity(1)".into(), Err("permission denied")),
            ("activity by function", "SELECT count(*) FROM pg_stat_get_activity(NULL)".into(), Err("permission denied")),
            ("cancel another session", "SELECT pg_cancel_backend(1)".into(), Err("permission denied")),
            ("terminate another session", "SELECT pg_terminate_backend(1)".into(), Err("permission denied")),
            ("create a large object", "SELECT lo_from_bytea(0, 'loot')".into(), Err("permission denied")),
            ("create an empty large object", "SELECT lo_creat(-1)".into(), Err("permission denied")),
            ("open a large object", "SELECT lo_open(1, 262144)".into(), Err("permission denied")),
            ("read a large object", "SELECT lo_get(1)".into(), Err("permission denied")),
            ("list large objects", "SELECT count(*) FROM pg_largeobject_metadata".into(), Err("permission denied")),
            ("row counts per table", "SELECT sum(n_live_tup) FROM pg_stat_user_tables".into(), Err("permission denied")),
            ("row counts by function", "SELECT pg_stat_get_live_tuples('app.tasks'::regclass)".into(), Err("permission denied")),
            ("inserted rows by function", "SELECT pg_stat_get_tuples_inserted('app.tasks'::regclass)".into(), Err("permission denied")),
            ("block reads", "SELECT count(*) FROM pg_statio_user_tables".into(), Err("permission denied")),
            ("database-wide counters", "SELECT tup_inserted FROM pg_stat_database".into(), Err("permission denied")),
            ("notify another tenant", "SELECT pg_notify('c', 'x')".into(), Err("permission denied")),
            ("the global audit sequence", "SELECT max(id) FROM tenantgate.audit_log".into(), Err("permission denied")),
            ("probe audit ids",
             format!("INSERT INTO tenantgate.audit_log (id, tenant_id, actor_kind, action) OVERRIDING SYSTEM VALUE \
                      VALUES (1, '{tid}', 'system', 'probe') ON CONFLICT DO NOTHING"),
             Err("permission denied")),
            ("control: a per-tenant event id",
             format!("INSERT INTO tenantgate.audit_log (tenant_id, action) VALUES ('{tid}', 'x.done') RETURNING length(event_id::text)::text"),
             Ok(vec!["36"])),
        ]).await;
    }
    // Connections: the application role reaches its databases only.
    let connect = |db: &str| {
        let url = pg.url_as("tenantgate_app", db);
        async move {
            tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map(|_| ())
        }
    };
    assert!(
        connect("postgres").await.is_ok(),
        "control: its own database"
    );
    let err = connect("template1").await.unwrap_err();
    let msg = err
        .as_db_error()
        .map_or(err.to_string(), |d| d.message().to_owned());
    assert!(msg.contains("permission denied"), "template1: {msg}");
    let members = tokio_postgres::connect(
        &pg.url_as("tenantgate_members", "postgres"),
        tokio_postgres::NoTls,
    )
    .await;
    // Refused by Postgres for being NOLOGIN, not by any failure to connect.
    let err = members.map(|_| ()).unwrap_err();
    let msg = err
        .as_db_error()
        .map_or(err.to_string(), |d| d.message().to_owned());
    assert!(
        msg.contains("is not permitted to log in"),
        "tenantgate_members: {msg}"
    );
}

#[tokio::test]
async fn audit_events_take_their_actor_from_the_context() {
    let pg = world();
    let insert = |tid: &str, cols: &str, vals: &str| {
        format!(
            "INSERT INTO tenantgate.audit_log (tenant_id, action{cols}) VALUES ('{tid}', 'task.deleted'{vals}) \
             RETURNING actor_kind || ' ' || coalesce(actor_user_id::text, '-') || ' ' || request_id"
        )
    };
    for (tid, uid) in [(A, ANN), (B, CAROL)] {
        let user = ctx(tid, Some(uid));
        check(
            &pg,
            "tenantgate_app",
            &user,
            &[
                (
                    "control: filled from the context",
                    insert(tid, "", ""),
                    Ok(vec![&format!("user {uid} r1")]),
                ),
                (
                    "control: stated as the context says",
                    insert(
                        tid,
                        ", actor_kind, actor_user_id",
                        &format!(", 'user', '{uid}'"),
                    ),
                    Ok(vec![&format!("user {uid} r1")]),
                ),
                (
                    "claims to be a platform admin",
                    insert(tid, ", actor_kind", ", 'platform_admin'"),
                    Err("come from the tenant context"),
                ),
                (
                    "claims to be the system",
                    insert(tid, ", actor_kind", ", 'system'"),
                    Err("come from the tenant context"),
                ),
                (
                    "claims another user",
                    insert(tid, ", actor_user_id", &format!(", '{BOB}'")),
                    Err("come from the tenant context"),
                ),
                (
                    "claims another request",
                    insert(tid, ", request_id", ", 'r0'"),
                    Err("come from the tenant context"),
                ),
            ],
        )
        .await;
        check(
            &pg,
            "tenantgate_app",
            &ctx(tid, None),
            &[
                (
                    "control: no user is the system",
                    insert(tid, "", ""),
                    Ok(vec!["system - r1"]),
                ),
                (
                    "no user claims a user",
                    insert(tid, ", actor_kind", ", 'user'"),
                    Err("come from the tenant context"),
                ),
            ],
        )
        .await;
    }
    // The platform (superuser) still writes platform events.
    pg.psql(
        "postgres",
        "INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action) VALUES (NULL, 'platform_admin', 'tenant.created')",
    );
}
