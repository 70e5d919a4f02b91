//! Issue 12, attacked through raw connections: roles by duty (directory, users and
//! memberships; `side_channels.rs` has the shared-role side channels and the audit actor).
//! Each refusal sits beside an allowed control, and each attack runs for acme and then for
//! globex, so a gate keyed to one tenant fails too.

use serde_json::json;
use tenantgate_tests::dataplane::sign_context;
use tenantgate_tests::postgres::PgCluster;

use crate::{claims, migrate, seed, A, B, KEY};

pub(crate) const ANN: &str = "a9000000-0000-4000-8000-0000000000a1"; // acme's member
pub(crate) const BOB: &str = "a9000000-0000-4000-8000-0000000000b2"; // invited to acme
pub(crate) const CAROL: &str = "b9000000-0000-4000-8000-0000000000c3"; // globex's member only

/// A context for tenant `tid` naming user `uid`.
pub(crate) fn ctx(tid: &str, uid: Option<&str>) -> String {
    let mut c = claims(tid, 300);
    c["uid"] = json!(uid);
    sign_context("k1", KEY, &c)
}

/// A context for tenant `tid` naming user `uid` with these permissions.
pub(crate) fn ctx_with(tid: &str, uid: Option<&str>, perms: &[&str]) -> String {
    let mut c = claims(tid, 300);
    c["uid"] = json!(uid);
    c["perms"] = json!(perms);
    sign_context("k1", KEY, &c)
}

/// Runs `sql` (simple protocol, one transaction) as `user` with `context` bound; the first
/// column of every row, or the error's message.
async fn run(pg: &PgCluster, user: &str, context: &str, sql: &str) -> Result<Vec<String>, String> {
    let (mut client, conn) =
        tokio_postgres::connect(&pg.url_as(user, "postgres"), tokio_postgres::NoTls)
            .await
            .map_err(|e| {
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_owned())
            })?;
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

pub(crate) fn world() -> PgCluster {
    let pg = PgCluster::start();
    migrate(&pg);
    seed(&pg);
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate.tenant_placements (tenant_id) VALUES ('{A}'), ('{B}');
             INSERT INTO tenantgate.roles (tenant_id, name, built_in) VALUES
               ('{A}', 'admin', true), ('{A}', 'member', true), ('{B}', 'admin', true), ('{B}', 'member', true);
             INSERT INTO tenantgate.users (id, email, display_name) VALUES
               ('{ANN}', 'ann@acme.test', 'Ann'), ('{BOB}', 'bob@example.test', 'Bob'),
               ('{CAROL}', 'carol@globex.test', 'Carol');
             INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name) VALUES
               ('{A}', '{ANN}', 'admin'), ('{B}', '{CAROL}', 'admin');
             INSERT INTO tenantgate.invitations (tenant_id, email, role_name, token_hash, expires_at) VALUES
               ('{A}', 'bob@example.test', 'member', sha256('bob-token'::bytea), now() + interval '1 day'),
               ('{A}', 'carol@globex.test', 'member', sha256('carol-token'::bytea), now() + interval '1 day');"
        ),
    );
    pg
}

/// `(what, sql, Ok(first cells) | Err(part of the message))`, run as the application role.
pub(crate) type Case<'a> = (&'a str, String, Result<Vec<&'a str>, &'a str>);

pub(crate) async fn check(pg: &PgCluster, user: &str, context: &str, cases: &[Case<'_>]) {
    for (what, sql, want) in cases {
        let got = run(pg, user, context, sql).await;
        match (want, &got) {
            (Ok(rows), Ok(g)) => assert_eq!(g, rows, "{what}"),
            (Err(part), Err(e)) => assert!(e.contains(part), "{what}: {e}"),
            _ => panic!("{what}: expected {want:?}, got {got:?}"),
        }
    }
}

#[tokio::test]
async fn backends_cannot_use_the_directory_or_provision_users() {
    let pg = world();
    for (tid, slug, other) in [(A, "acme", "globex"), (B, "globex", "acme")] {
        let c = ctx(tid, None);
        check(
            &pg,
            "tenantgate_app",
            &c,
            &[
                (
                    "resolve another tenant by slug",
                    format!("SELECT name FROM tenantgate.resolve_tenant_by_slug('{other}')"),
                    Err("permission denied for function"),
                ),
                (
                    "resolve by id",
                    format!("SELECT name FROM tenantgate.resolve_tenant_by_id('{A}')"),
                    Err("permission denied for function"),
                ),
                (
                    "resolve by domain",
                    "SELECT name FROM tenantgate.resolve_tenant_by_domain('x.test')".into(),
                    Err("permission denied for function"),
                ),
                (
                    "look a user up by e-mail",
                    "SELECT tenantgate.ensure_user('carol@globex.test', 'x')".into(),
                    Err("permission denied for function"),
                ),
                (
                    "control: the context functions",
                    "SELECT tenantgate.current_tenant_id()::text".into(),
                    Ok(vec![tid]),
                ),
            ],
        )
        .await;
        // Control: the directory role resolves any tenant, and may do nothing else.
        check(
            &pg,
            "tenantgate_directory",
            "",
            &[
                (
                    "control: directory resolves",
                    format!("SELECT slug FROM tenantgate.resolve_tenant_by_slug('{slug}')"),
                    Ok(vec![slug]),
                ),
                (
                    "directory reads the registry",
                    "SELECT count(*) FROM tenantgate.tenants".into(),
                    Err("permission denied"),
                ),
                (
                    "directory reads tenant data",
                    "SELECT count(*) FROM app.tasks".into(),
                    Err("permission denied"),
                ),
                (
                    "directory calls member functions",
                    format!("SELECT tenantgate.remove_member('{ANN}', NULL)"),
                    Err("permission denied"),
                ),
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn a_tenant_reaches_only_its_members_and_cannot_make_one() {
    let pg = world();
    let acme = ctx(A, Some(ANN));
    let users = "SELECT string_agg(email, ',' ORDER BY email) FROM tenantgate.users";
    check(&pg, "tenantgate_app", &acme, &[
        ("control: its own member", users.into(), Ok(vec!["ann@acme.test"])),
        ("insert a membership for another tenant's user",
         format!("INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name) VALUES ('{A}', '{CAROL}', 'member')"),
         Err("permission denied for table memberships")),
        ("move a membership", format!("UPDATE tenantgate.memberships SET user_id = '{CAROL}'"), Err("permission denied")),
        ("insert a user", "INSERT INTO tenantgate.users (email) VALUES ('x@y.test')".into(), Err("permission denied")),
        ("probe a user id through the inviter key",
         format!("INSERT INTO tenantgate.invitations (tenant_id, email, role_name, token_hash, expires_at, invited_by_user_id) \
                  VALUES ('{A}', 'x@y.test', 'member', sha256('t'::bytea), now() + interval '1 day', '{CAROL}')"),
         Err("permission denied for table invitations")),
        ("write an invitation directly (0010: only through the functions)",
         format!("INSERT INTO tenantgate.invitations (tenant_id, email, role_name, token_hash, expires_at) \
                  VALUES ('{A}', 'x@y.test', 'member', sha256('t'::bytea), now() + interval '1 day')"),
         Err("permission denied for table invitations")),
        ("control: read its invitations", "SELECT count(*) FROM tenantgate.invitations".into(), Ok(vec!["2"])),
    ]).await;
    // Ann may manage members (the functions check the permission): still only acme's.
    let manager = ctx_with(A, Some(ANN), &["members.manage"]);
    check(
        &pg,
        "tenantgate_app",
        &manager,
        &[
            (
                "change a globex member's role",
                format!("SELECT tenantgate.set_member_role('{CAROL}', 'member', NULL)"),
                Err("member not found"),
            ),
            (
                "remove a globex member",
                format!("SELECT tenantgate.remove_member('{CAROL}', NULL)"),
                Err("member not found"),
            ),
            (
                "control: change its own member's role",
                format!("SELECT tenantgate.set_member_role('{ANN}', 'member', NULL)"),
                Ok(vec!["member"]),
            ),
            (
                "accept bob's invitation as ann",
                "SELECT tenantgate.accept_invitation('bob-token')".into(),
                Err("no pending invitation"),
            ),
        ],
    )
    .await;
    // Carol (globex) holds an acme invitation for her own e-mail: accepting it, signed in as
    // herself, is how she becomes acme's member; a wrong token is refused.
    let carol_at_acme = ctx(A, Some(CAROL));
    check(
        &pg,
        "tenantgate_app",
        &carol_at_acme,
        &[
            (
                "a wrong token",
                "SELECT tenantgate.accept_invitation('bob-token')".into(),
                Err("no pending invitation"),
            ),
            (
                "control: her own invitation",
                "SELECT tenantgate.accept_invitation('carol-token')".into(),
                Ok(vec!["member"]),
            ),
            (
                "accepted once",
                "SELECT tenantgate.accept_invitation('carol-token')".into(),
                Err("no pending invitation"),
            ),
        ],
    )
    .await;
    check(
        &pg,
        "tenantgate_app",
        &acme,
        &[(
            "control: now acme's member",
            users.into(),
            Ok(vec!["ann@acme.test,carol@globex.test"]),
        )],
    )
    .await;
    // Globex never sees acme's members, nor bob who is nobody's member.
    check(
        &pg,
        "tenantgate_app",
        &ctx(B, None),
        &[(
            "globex sees its own",
            users.into(),
            Ok(vec!["carol@globex.test"]),
        )],
    )
    .await;
}
