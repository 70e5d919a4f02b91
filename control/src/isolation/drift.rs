//! The database-wide half of the isolation audit that catches what PostgreSQL lets a role do to
//! itself, or lets a grant reopen (issue 12): role-level settings of the application and directory
//! roles, the directory role's attributes, functions and tables either role may use beyond its duty,
//! side-channel functions and views reachable again, large objects, and `CONNECT`/`TEMPORARY` on
//! databases that are not tenantgate's.
//!
//! The duty lists below are the contract of migrations 0006/0007: a file that grants a new
//! `tenantgate` function to a role adds it here too.

use tokio_postgres::Client;

use crate::db::Database;
use crate::error::Result;
use crate::report::Doing as _;

/// Functions of schema `tenantgate` the application role may execute.
pub const APP_FUNCTIONS: &[&str] = &[
    "tenantgate.current_context()",
    "tenantgate.current_tenant_id()",
    "tenantgate.current_user_id()",
    "tenantgate.current_placement()",
    "tenantgate.current_request_id()",
    "tenantgate.current_roles()",
    "tenantgate.current_permissions()",
    "tenantgate.has_permission(text)",
    // The organisation functions (0010): each checks the context's permission itself.
    "tenantgate.set_member_role(uuid,text,inet)",
    "tenantgate.remove_member(uuid,inet)",
    "tenantgate.create_invitation(text,text,integer,inet)",
    "tenantgate.resend_invitation(uuid,integer,inet)",
    "tenantgate.revoke_invitation(uuid,inet)",
    "tenantgate.accept_invitation(text,inet)",
    "tenantgate.create_role(text,text,text[],inet)",
    "tenantgate.update_role(text,text,text[],inet)",
    "tenantgate.delete_role(text,inet)",
    "tenantgate.add_domain(text,inet)",
    "tenantgate.remove_domain(text,inet)",
    "tenantgate.sso_settings()",
    "tenantgate.update_sso(boolean,boolean,text,text[],inet)",
    "tenantgate.usage_quota()",
    "tenantgate.current_tenant()",
    "tenantgate.my_organisations()",
    "tenantgate.create_organisation(text,text,inet)",
    // The platform functions (0013): each checks platform.admin in the verified context itself.
    "tenantgate.platform_tenants(text,text,text,integer)",
    "tenantgate.platform_tenant()",
    "tenantgate.platform_lifecycle(text,text,integer,inet)",
    "tenantgate.platform_break_glass_grant(text,boolean,integer,text,inet)",
    "tenantgate.platform_break_glass_list()",
    "tenantgate.platform_break_glass_revoke(uuid,inet)",
    "tenantgate.platform_export_control(inet)",
];

/// Functions of schema `tenantgate` the directory role may execute.
pub const DIRECTORY_FUNCTIONS: &[&str] = &[
    "tenantgate.resolve_tenant_by_slug(text)",
    "tenantgate.resolve_tenant_by_domain(text)",
    "tenantgate.resolve_tenant_by_id(uuid)",
    "tenantgate.ensure_user(text,text)",
    "tenantgate.effective_limits(uuid)",
    "tenantgate.monthly_usage(uuid,date)",
    "tenantgate.record_usage(jsonb)",
    "tenantgate.sso_mode(uuid)",
    "tenantgate.sso_provider(uuid)",
    "tenantgate.sso_begin(uuid,bytea,bytea,text,text,text,text,integer,bytea)",
    "tenantgate.sso_take(bytea)",
    "tenantgate.saml_seen(uuid,text,text,timestampwithtimezone)",
    "tenantgate.sso_login(uuid,text,text,text,boolean,text,integer,bytea)",
    "tenantgate.session_state(uuid)",
    "tenantgate.session_end(uuid)",
    "tenantgate.switch_begin(uuid,uuid,text,bytea,text,integer)",
    "tenantgate.switch_redeem(uuid,bytea,integer)",
    "tenantgate.break_glass_access(uuid,uuid,text,text,text,text,inet)",
];

/// `pg_catalog` functions and views migrations 0006, 0012 and 0014 revoke from `PUBLIC`: one of each kind, so a
/// blanket re-grant is seen.
const SIDE_CHANNELS: &[(&str, &str)] = &[
    ("function", "pg_catalog.pg_stat_get_activity(integer)"),
    (
        "function",
        "pg_catalog.pg_stat_get_backend_activity(integer)",
    ),
    ("function", "pg_catalog.pg_stat_get_live_tuples(oid)"),
    ("function", "pg_catalog.pg_cancel_backend(integer)"),
    (
        "function",
        "pg_catalog.pg_terminate_backend(integer,bigint)",
    ),
    ("function", "pg_catalog.lo_open(oid,integer)"),
    ("function", "pg_catalog.lo_from_bytea(oid,bytea)"),
    ("function", "pg_catalog.lo_creat(integer)"),
    ("function", "pg_catalog.pg_notify(text,text)"),
    ("view", "pg_catalog.pg_stat_activity"),
    ("view", "pg_catalog.pg_stat_user_tables"),
    ("view", "pg_catalog.pg_largeobject_metadata"),
    // 0012: the host's prepared statements of earlier requests on a pooled connection.
    ("function", "pg_catalog.pg_prepared_statement()"),
    ("view", "pg_catalog.pg_prepared_statements"),
    // 0014: other databases' and other tenants' relations' sizes.
    ("function", "pg_catalog.pg_database_size(name)"),
    ("function", "pg_catalog.pg_relation_size(regclass)"),
];

const ROLES: [&str; 2] = ["tenantgate_app", "tenantgate_directory"];

/// The BYPASSRLS roles that own the SECURITY DEFINER functions.
const DEFINER_ROLES: [&str; 2] = ["tenantgate_members", "tenantgate_platform"];

/// Findings of one database; `ours` names every database the audit covers on this server.
pub(super) async fn drift_findings(
    client: &Client,
    db: &Database,
    ours: &[String],
) -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    let doing = |what: &str| format!("{db}: reading {what}");

    // Role-level settings: any at all is drift (ALTER ROLE CURRENT_USER SET ... by a backend). Each is
    // marked pinned (the connection strings' options outrank it: no effect on connections made as
    // documented) or not (it applies at the role's next login: performance, or a connection string
    // without the pinned options).
    for row in client
        .query(
            "SELECT r.rolname::text, coalesce(d.datname::text, 'every database'), s.setconfig \
               FROM pg_db_role_setting AS s JOIN pg_roles AS r ON r.oid = s.setrole \
               LEFT JOIN pg_database AS d ON d.oid = s.setdatabase \
              WHERE r.rolname::text = ANY ($1::text[]) ORDER BY 1, 2",
            &[&ROLES.as_slice()],
        )
        .await
        .doing(doing("role settings"))?
    {
        let (role, on, settings): (String, String, Vec<String>) =
            (row.get(0), row.get(1), row.get(2));
        let settings = settings
            .iter()
            .map(|s| {
                let name = s.split_once('=').map_or(s.as_str(), |(n, _)| n);
                let how = if crate::connection::is_pinned(name) {
                    "pinned"
                } else {
                    "not pinned"
                };
                format!("{s} ({how})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        out.push((
            "role-settings",
            format!(
                "{role} has role-level settings in {on}: {settings} (ALTER ROLE {role} RESET ALL)"
            ),
        ));
    }

    // The directory role's attributes.
    if let Some(row) = client
        .query_opt(
            "SELECT r.rolsuper, r.rolbypassrls, EXISTS (SELECT 1 FROM pg_auth_members AS m WHERE m.member = r.oid) \
               FROM pg_roles AS r WHERE r.rolname = 'tenantgate_directory'",
            &[],
        )
        .await
        .doing(doing("the directory role"))?
    {
        for (i, what) in [(0, "is a superuser"), (1, "has BYPASSRLS"), (2, "is a member of another role")] {
            if row.get::<_, bool>(i) {
                out.push(("directory-role", format!("tenantgate_directory {what}")));
            }
        }
    }

    // The roles that own the SECURITY DEFINER functions (0006/0007 tenantgate_members, 0013
    // tenantgate_platform, both BYPASSRLS): no one logs in as them, and no role but the owner
    // (which hands them their functions) may become them.
    for row in client
        .query(
            "SELECT r.rolname::text, r.rolcanlogin, \
                    coalesce((SELECT string_agg(m.rolname::text, ', ' ORDER BY m.rolname) \
                                FROM pg_auth_members AS a JOIN pg_roles AS m ON m.oid = a.member \
                               WHERE a.roleid = r.oid AND m.rolname <> 'tenantgate_owner'), '') \
               FROM pg_roles AS r WHERE r.rolname = ANY ($1::text[]) ORDER BY 1",
            &[&DEFINER_ROLES.as_slice()],
        )
        .await
        .doing(doing("the function owners' roles"))?
    {
        let (role, login, members): (String, bool, String) = (row.get(0), row.get(1), row.get(2));
        if login {
            out.push((
                "definer-role",
                format!("{role} can log in (ALTER ROLE {role} NOLOGIN)"),
            ));
        }
        if !members.is_empty() {
            out.push((
                "definer-role",
                format!("{members} may become {role} (REVOKE {role} FROM ...)"),
            ));
        }
    }

    // Functions of tenantgate beyond each role's duty, and any executable by PUBLIC.
    for (role, allowed) in [(ROLES[0], APP_FUNCTIONS), (ROLES[1], DIRECTORY_FUNCTIONS)] {
        let extra: Option<String> = client
            .query_one(
                "SELECT string_agg(f, ', ' ORDER BY f) FROM ( \
                   SELECT replace(p.oid::regprocedure::text, ' ', '') AS f FROM pg_proc AS p \
                    WHERE p.pronamespace = 'tenantgate'::regnamespace \
                      AND has_function_privilege($1::name, p.oid, 'EXECUTE')) AS x \
                  WHERE f <> ALL ($2::text[])",
                &[&role, &allowed],
            )
            .await
            .doing(doing("function grants"))?
            .get(0);
        if let Some(extra) = extra {
            out.push(("grants", format!("{role} may execute {extra}")));
        }
    }

    // Tables: the directory role reads none; the application role does not write users,
    // memberships, roles, role permissions or invitations (0010: only the organisation
    // functions do) and does not read the global audit id.
    let row = client
        .query_one(
            "SELECT (SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class AS c \
                      WHERE c.relnamespace IN ('tenantgate'::regnamespace, 'tenantgate_private'::regnamespace) \
                        AND c.relkind IN ('r', 'p', 'v', 'm') \
                        AND has_table_privilege('tenantgate_directory', c.oid, 'SELECT, INSERT, UPDATE, DELETE')), \
                    (SELECT string_agg(t || ' ' || p, ', ') FROM unnest(ARRAY['tenantgate.users', 'tenantgate.memberships', 'tenantgate.roles', 'tenantgate.role_permissions', 'tenantgate.invitations']) AS t, \
                            unnest(ARRAY['INSERT', 'UPDATE', 'DELETE']) AS p \
                      WHERE to_regclass(t) IS NOT NULL AND has_table_privilege('tenantgate_app', t, p)), \
                    to_regclass('tenantgate.audit_log') IS NOT NULL \
                      AND (has_column_privilege('tenantgate_app', 'tenantgate.audit_log', 'id', 'SELECT') \
                           OR has_column_privilege('tenantgate_app', 'tenantgate.audit_log', 'id', 'INSERT'))",
            &[],
        )
        .await
        .doing(doing("table grants"))?;
    if let Some(t) = row.get::<_, Option<String>>(0) {
        out.push(("grants", format!("tenantgate_directory may use {t}")));
    }
    if let Some(t) = row.get::<_, Option<String>>(1) {
        out.push(("grants", format!("tenantgate_app may write {t}")));
    }
    if row.get::<_, Option<bool>>(2) == Some(true) {
        out.push((
            "grants",
            "tenantgate_app may read or write audit_log.id (a global sequence)".into(),
        ));
    }

    // Side channels re-opened.
    for (kind, name) in SIDE_CHANNELS {
        let sql = if *kind == "function" {
            "SELECT to_regprocedure($1::text) IS NOT NULL \
             AND has_function_privilege($2::name, to_regprocedure($1::text), 'EXECUTE')"
        } else {
            "SELECT to_regclass($1::text) IS NOT NULL \
             AND has_table_privilege($2::name, to_regclass($1::text), 'SELECT')"
        };
        for role in ROLES {
            if client
                .query_one(sql, &[name, &role])
                .await
                .doing(doing("side-channel grants"))?
                .get::<_, bool>(0)
            {
                out.push(("side-channel", format!("{role} may use {kind} {name}")));
            }
        }
    }

    // Large objects: tenantgate databases hold none (they are outside row-level security).
    let los: i64 = client
        .query_one("SELECT count(*) FROM pg_largeobject_metadata", &[])
        .await
        .doing(doing("large objects"))?
        .get(0);
    if los > 0 {
        out.push(("large-objects", format!("{los} large object(s) exist")));
    }

    // CONNECT on other databases of this server; TEMPORARY anywhere.
    for row in client
        .query(
            "SELECT d.datname::text, r.rolname::text, has_database_privilege(r.oid, d.oid, 'CONNECT'), \
                    has_database_privilege(r.oid, d.oid, 'TEMPORARY') \
               FROM pg_database AS d CROSS JOIN pg_roles AS r \
              WHERE d.datallowconn AND r.rolname::text = ANY ($1::text[]) ORDER BY 1, 2",
            &[&ROLES.as_slice()],
        )
        .await
        .doing(doing("database grants"))?
    {
        let (dat, role): (String, String) = (row.get(0), row.get(1));
        if row.get::<_, bool>(2) && !ours.contains(&dat) {
            out.push(("connect", format!("{role} may connect to database {dat}")));
        }
        if row.get::<_, bool>(3) {
            out.push(("temp", format!("{role} may create temporary tables in database {dat}")));
        }
    }
    Ok(out)
}
