//! The catalog half of the isolation audit: the application role's attributes per database, and
//! per tenant table the policy's shape, an index led by `tenant_id`, foreign keys that include
//! `tenant_id`, and no `TRUNCATE`/`REFERENCES`/`TRIGGER` for the application role.

use tokio_postgres::Client;

use crate::db::Database;
use crate::error::Result;
use crate::report::Doing as _;

/// The expression every tenant policy has, as `pg_get_expr` prints it.
const POLICY_EXPR: &str =
    "(tenant_id = ( SELECT tenantgate.current_tenant_id() AS current_tenant_id))";

/// The application role's attributes in one database: not superuser, no `BYPASSRLS`, a member of
/// no role, no `CREATE` or `TEMPORARY` on the database, `CREATE` on no schema, owner of nothing.
pub(super) async fn role_findings(
    client: &Client,
    db: &Database,
) -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    let row = client
        .query_one(
            "SELECT r.rolsuper, r.rolbypassrls, \
                    EXISTS (SELECT 1 FROM pg_auth_members AS m WHERE m.member = r.oid), \
                    has_database_privilege(r.oid, current_database(), 'CREATE'), \
                    has_database_privilege(r.oid, current_database(), 'TEMPORARY'), \
                    (SELECT string_agg(n.nspname, ', ') FROM pg_namespace AS n \
                      WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
                        AND has_schema_privilege(r.oid, n.oid, 'CREATE')), \
                    (SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class AS c WHERE c.relowner = r.oid) \
               FROM pg_roles AS r WHERE r.rolname = 'tenantgate_app'",
            &[],
        )
        .await
        .doing(format_args!("{db}: reading the application role"))?;
    let checks: [(bool, &'static str, &str); 5] = [
        (row.get(0), "app-role", "tenantgate_app is a superuser"),
        (row.get(1), "app-role", "tenantgate_app has BYPASSRLS"),
        (
            row.get(2),
            "app-role",
            "tenantgate_app is a member of another role",
        ),
        (
            row.get(3),
            "app-role",
            "tenantgate_app may CREATE in the database",
        ),
        (
            row.get(4),
            "app-role",
            "tenantgate_app may create TEMPORARY tables",
        ),
    ];
    for (bad, check, what) in checks {
        if bad {
            out.push((check, what.to_string()));
        }
    }
    if let Some(schemas) = row.get::<_, Option<String>>(5) {
        out.push((
            "app-role",
            format!("tenantgate_app may CREATE in schema(s) {schemas}"),
        ));
    }
    if let Some(owned) = row.get::<_, Option<String>>(6) {
        out.push(("app-role", format!("tenantgate_app owns {owned}")));
    }

    Ok(out)
}

/// Policy shape, index, foreign keys and grants of one tenant table.
pub(super) async fn catalog_findings(
    client: &Client,
    oid: u32,
) -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    let policies = client
        .query(
            "SELECT p.polname::text, p.polpermissive, p.polcmd::text, \
                    ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END FROM unnest(p.polroles) AS r), \
                    coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') \
               FROM pg_policy AS p WHERE p.polrelid = $1 ORDER BY 1",
            &[&oid],
        )
        .await
        .doing("reading policies")?;
    if policies.len() != 1 {
        out.push((
            "policy",
            format!(
                "{} policies ({}), expected exactly one",
                policies.len(),
                policies
                    .iter()
                    .map(|p| p.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for p in &policies {
        let name: String = p.get(0);
        let roles: Vec<String> = p.get(3);
        let (using, check): (String, String) = (p.get(4), p.get(5));
        let mut wrong = Vec::new();
        if !p.get::<_, bool>(1) {
            wrong.push("restrictive".to_string());
        }
        if p.get::<_, String>(2) != "*" {
            wrong.push(format!("FOR {} instead of ALL", p.get::<_, String>(2)));
        }
        if roles != ["tenantgate_app"] {
            wrong.push(format!("TO {} instead of tenantgate_app", roles.join(", ")));
        }
        if using != POLICY_EXPR {
            wrong.push(format!("USING {using}"));
        }
        if check != POLICY_EXPR {
            wrong.push(format!(
                "WITH CHECK {}",
                if check.is_empty() { "missing" } else { &check }
            ));
        }
        if !wrong.is_empty() {
            out.push(("policy", format!("policy {name}: {}", wrong.join("; "))));
        }
    }
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_index AS i JOIN pg_attribute AS a ON a.attrelid = i.indrelid \
                             AND a.attname = 'tenant_id' WHERE i.indrelid = $1 AND i.indkey[0] = a.attnum), \
                    (SELECT string_agg(k.conname::text, ', ') FROM pg_constraint AS k \
                      WHERE k.conrelid = $1 AND k.contype = 'f' \
                        AND EXISTS (SELECT 1 FROM pg_attribute AS fa WHERE fa.attrelid = k.confrelid AND fa.attname = 'tenant_id') \
                        AND NOT EXISTS (SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = k.conrelid \
                                         AND a.attname = 'tenant_id' AND a.attnum = ANY (k.conkey))), \
                    has_table_privilege('tenantgate_app', $1, 'TRUNCATE'), \
                    has_table_privilege('tenantgate_app', $1, 'REFERENCES'), \
                    has_table_privilege('tenantgate_app', $1, 'TRIGGER')",
            &[&oid],
        )
        .await
        .doing("reading indexes, foreign keys and grants")?;
    if !row.get::<_, bool>(0) {
        out.push(("index", "no index is led by tenant_id".to_string()));
    }
    if let Some(fks) = row.get::<_, Option<String>>(1) {
        out.push((
            "foreign-key",
            format!("{fks} reference a tenant table without tenant_id"),
        ));
    }
    for (i, right) in [(2, "TRUNCATE"), (3, "REFERENCES"), (4, "TRIGGER")] {
        if row.get::<_, bool>(i) {
            out.push(("grants", format!("tenantgate_app holds {right}")));
        }
    }
    Ok(out)
}
