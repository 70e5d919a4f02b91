//! The functions called directly as `tenantgate_app`: the context's permissions decide.

use tenantgate_tests::dataplane::{sign_context, unix_now};

use crate::app::KEY;
use serde_json::json;

use super::*;
use crate::app::ACME;

/// Runs `sql` as `tenantgate_app` with `context` bound, as a backend running any SQL could:
/// the first column of the rows, or the error message.
pub(super) async fn as_app(o: &Orgs, context: &str, sql: &str) -> Result<Vec<String>, String> {
    let (mut client, conn) = tokio_postgres::connect(
        &o.app.pg.url_as("tenantgate_app", "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "SELECT set_config('tenantgate.context', $1, true)",
        &[&context],
    )
    .await
    .unwrap();
    let rows = tx.simple_query(sql).await.map_err(|e| {
        e.as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned())
    })?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some(r.get(0).unwrap_or("NULL").to_owned())
            }
            _ => None,
        })
        .collect())
}

pub(super) fn context(tid: &str, uid: &str, perms: &[&str]) -> String {
    sign_context(
        "k1",
        KEY,
        &json!({"tid": tid, "slug": "acme", "plc": "shared", "uid": uid, "roles": [],
                "perms": perms, "rid": "sql-attack", "exp": unix_now() + 300}),
    )
}

#[tokio::test]
async fn a_backend_running_sql_cannot_do_what_its_context_forbids() {
    let o = Orgs::start().await;
    let member = context(ACME, CAROL, &["tasks.read", "tasks.write", "members.read"]);
    let owner = context(ACME, ALICE, ALL);
    let inv = "(SELECT id FROM tenantgate.invitations LIMIT 1)";
    // (what, sql, refused with) — each then run with the owner's context as the control.
    let cases: Vec<(&str, String, &str)> = vec![
        ("change a role", format!("SELECT tenantgate.set_member_role('{MALLORY}', 'member', NULL)"), "forbidden|"),
        ("remove a member", format!("SELECT tenantgate.remove_member('{MALLORY}', NULL)"), "forbidden|"),
        ("invite", "SELECT invitation_id FROM tenantgate.create_invitation('z@example.test', 'member', NULL, NULL)".into(), "forbidden|"),
        ("create a role", "SELECT tenantgate.create_role('r', NULL, ARRAY['tasks.read'], NULL)".into(), "forbidden|"),
        ("add a domain", "SELECT tenantgate.add_domain('x.acme.example', NULL)".into(), "forbidden|"),
        ("read the SSO settings", "SELECT count(*) FROM tenantgate.sso_settings()".into(), "forbidden|"),
        ("read the quota", "SELECT count(*) FROM tenantgate.usage_quota()".into(), "forbidden|"),
        ("add a permission to member", format!("INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission) VALUES ('{ACME}', 'member', 'members.manage')"), "permission denied"),
        ("make a role", format!("INSERT INTO tenantgate.roles (tenant_id, name) VALUES ('{ACME}', 'sneaky')"), "permission denied"),
        ("write an invitation", format!("UPDATE tenantgate.invitations SET expires_at = now() + interval '1 year' WHERE id = {inv}"), "permission denied"),
        ("read the provider secret", "SELECT client_secret FROM tenantgate.sso_providers".into(), "permission denied"),
        ("seed roles", format!("SELECT tenantgate.seed_system_roles('{ACME}')"), "permission denied"),
        ("join by any invitation", format!("SELECT tenantgate.join_by_invitation('{ACME}', '{CAROL}', 'x', NULL)"), "permission denied"),
    ];
    // An invitation to revoke and a role to edit exist (made with the owner's context).
    as_app(&o, &owner, "SELECT invitation_id FROM tenantgate.create_invitation('y@example.test', 'member', NULL, NULL)").await.unwrap();
    for (what, sql, want) in &cases {
        let got = as_app(&o, &member, sql).await;
        assert!(
            matches!(&got, Err(e) if e.contains(want)),
            "{what}: {got:?}"
        );
    }
    for (what, sql, want) in &cases[..7] {
        let got = as_app(&o, &owner, sql).await;
        assert!(got.is_ok(), "control, the owner: {what} ({want}): {got:?}");
    }
    // Escalation in SQL too: an owner context that lacks a permission cannot grant a role that has it.
    let partial = context(ACME, ALICE, &["members.manage", "members.read"]);
    let got = as_app(
        &o,
        &partial,
        &format!("SELECT tenantgate.set_member_role('{CAROL}', 'admin', NULL)"),
    )
    .await;
    assert!(
        matches!(&got, Err(e) if e.starts_with("forbidden|")),
        "{got:?}"
    );
    // Another tenant's context signed with a bad key sees nothing and can do nothing.
    let forged = sign_context(
        "k1",
        b"not-the-key-not-the-key-not-the!",
        &json!({"tid": ACME, "slug": "acme", "plc": "shared", "uid": ALICE,
        "roles": [], "perms": ALL, "rid": "x", "exp": unix_now() + 300}),
    );
    let got = as_app(
        &o,
        &forged,
        "SELECT tenantgate.create_role('forged', NULL, ARRAY['tasks.read'], NULL)",
    )
    .await;
    assert!(
        matches!(&got, Err(e) if e.contains("verified tenant context")),
        "{got:?}"
    );
    // The audit rows of the SQL calls carry the context's actor and request id.
    assert_eq!(
        o.sql("SELECT string_agg(DISTINCT actor_user_id::text || ' ' || request_id, ',') FROM tenantgate.audit_log WHERE request_id = 'sql-attack'"),
        format!("{ALICE} sql-attack")
    );
}
