//! `tenantgate audit isolation`: checks every tenant-scoped table in every database the routing table
//! names, by catalog and by behaviour.
//!
//! Catalog, per table with a `tenant_id` column (schemas `tenantgate`, `app`, `tenant_*`): RLS enabled
//! and forced; exactly one policy, permissive, `FOR ALL TO tenantgate_app`, `USING` = `WITH CHECK` =
//! `tenant_id = (SELECT tenantgate.current_tenant_id())`; an index led by `tenant_id`; foreign keys to
//! other tenant tables that include `tenant_id`; no `TRUNCATE`/`REFERENCES`/`TRIGGER` for the
//! application role. A table without `tenant_id` must be marked `platform-scoped:` in its comment. Per
//! database: the application role is not superuser, has no `BYPASSRLS`, is a member of no role, owns
//! nothing, and may not create objects or temporary tables.
//!
//! Behaviour, per tenant table: under the signed context of each tenant placed there and of a sample of
//! other tenants, as the application role, no row of another tenant is visible or updatable, and the
//! viewer's own rows are all visible; without a context nothing is visible; as the owner role (the role
//! migrations run as) under a tenant's context nothing is visible. The contexts are signed with a
//! temporary key, written to each database for the audit and removed after it.

use std::collections::BTreeSet;
use std::fmt;

use anyhow::Context as _;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::db::{describe, ident, Database, Targets};
use crate::tenants::{self, PlacementSpec, Tenant};

/// The expression every tenant policy has, as `pg_get_expr` prints it.
const POLICY_EXPR: &str =
    "(tenant_id = ( SELECT tenantgate.current_tenant_id() AS current_tenant_id))";

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Database (`control` or a target name).
    pub database: String,
    /// `schema.table`, or `-` for database-wide findings.
    pub table: String,
    /// Short name of the check.
    pub check: &'static str,
    /// What was found.
    pub detail: String,
}

/// One audited table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLine {
    /// Database.
    pub database: String,
    /// `schema.table`.
    pub table: String,
    /// Tenant-scoped or platform-scoped.
    pub scoped: bool,
    /// Contexts tried against it.
    pub contexts: usize,
    /// Findings on this table.
    pub findings: usize,
}

/// The audit's result.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every table looked at.
    pub tables: Vec<TableLine>,
    /// Every problem.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing was found.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self
            .tables
            .iter()
            .map(|t| t.table.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let dw = self
            .tables
            .iter()
            .map(|t| t.database.len())
            .max()
            .unwrap_or(8)
            .max(8);
        writeln!(
            f,
            "{:dw$}  {:w$}  {:8}  {:8}  result",
            "database", "table", "scope", "contexts"
        )?;
        for t in &self.tables {
            writeln!(
                f,
                "{:dw$}  {:w$}  {:8}  {:8}  {}",
                t.database,
                t.table,
                if t.scoped { "tenant" } else { "platform" },
                t.contexts,
                if t.findings == 0 {
                    "ok".to_string()
                } else {
                    format!("{} FINDING(S)", t.findings)
                }
            )?;
        }
        if self.findings.is_empty() {
            writeln!(f, "no findings")
        } else {
            writeln!(f, "\n{} finding(s):", self.findings.len())?;
            for x in &self.findings {
                writeln!(
                    f,
                    "  {} {} [{}]: {}",
                    x.database, x.table, x.check, x.detail
                )?;
            }
            Ok(())
        }
    }
}

/// Options of the audit.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How many tenants placed elsewhere also try to read each table (all tenants placed in the
    /// table's own placement always do).
    pub others: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { others: 20 }
    }
}

/// Runs the audit. `Err` when it cannot run (a database unreachable); findings are in the report.
pub async fn isolation(targets: &Targets, opts: Options) -> anyhow::Result<Report> {
    let control = targets.connect(&Database::Control).await?;
    let all = tenants::list(&control).await?;
    let mut databases: BTreeSet<Database> = BTreeSet::from([Database::Control]);
    for t in &all {
        databases.insert(t.placement.database());
    }
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    let kid = format!("audit-{}", &Uuid::new_v4().simple().to_string()[..12]);
    let signer = Signer {
        kid: kid.clone(),
        key,
    };

    let mut report = Report::default();
    for db in &databases {
        let client = targets
            .connect(db)
            .await
            .with_context(|| format!("auditing database {db}"))?;
        client
            .execute(
                "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ($1, $2)",
                &[&kid, &key.as_slice()],
            )
            .await
            .map_err(|e| anyhow::anyhow!("adding the audit key to {db}: {}", describe(&e)))?;
        let result = audit_database(&client, db, &all, &signer, opts, &mut report).await;
        let removed = client
            .execute(
                "DELETE FROM tenantgate_private.context_keys WHERE kid = $1",
                &[&kid],
            )
            .await;
        result?;
        removed
            .map_err(|e| anyhow::anyhow!("removing the audit key from {db}: {}", describe(&e)))?;
    }
    Ok(report)
}

async fn audit_database(
    client: &Client,
    db: &Database,
    all: &[Tenant],
    signer: &Signer,
    opts: Options,
    report: &mut Report,
) -> anyhow::Result<()> {
    let dbname = db.to_string();
    let finding = |table: &str, check: &'static str, detail: String| Finding {
        database: dbname.clone(),
        table: table.to_string(),
        check,
        detail,
    };
    // The application role, database-wide.
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
        .map_err(|e| anyhow::anyhow!("{db}: reading the application role: {}", describe(&e)))?;
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
            report.findings.push(finding("-", check, what.to_string()));
        }
    }
    if let Some(schemas) = row.get::<_, Option<String>>(5) {
        report.findings.push(finding(
            "-",
            "app-role",
            format!("tenantgate_app may CREATE in schema(s) {schemas}"),
        ));
    }
    if let Some(owned) = row.get::<_, Option<String>>(6) {
        report.findings.push(finding(
            "-",
            "app-role",
            format!("tenantgate_app owns {owned}"),
        ));
    }

    let tables = client
        .query(
            "SELECT n.nspname::text, c.relname::text, c.oid, a.attnum IS NOT NULL, c.relrowsecurity, \
                    c.relforcerowsecurity, coalesce(obj_description(c.oid, 'pg_class'), '') \
               FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace \
               LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
              WHERE c.relkind IN ('r', 'p') AND (n.nspname IN ('tenantgate', 'app') OR n.nspname LIKE 'tenant\\_%') \
              ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| anyhow::anyhow!("{db}: listing tables: {}", describe(&e)))?;
    for t in tables {
        let (schema, name, oid): (String, String, u32) = (t.get(0), t.get(1), t.get(2));
        let qualified = format!("{schema}.{name}");
        let before = report.findings.len();
        let scoped: bool = t.get(3);
        let mut contexts = 0;
        if !scoped {
            let comment: String = t.get(6);
            if !comment.starts_with("platform-scoped:") {
                report.findings.push(finding(
                    &qualified,
                    "scope",
                    "no tenant_id column and not marked `platform-scoped:` in its comment".into(),
                ));
            }
        } else {
            if !t.get::<_, bool>(4) {
                report.findings.push(finding(
                    &qualified,
                    "rls",
                    "row-level security is not enabled".into(),
                ));
            }
            if !t.get::<_, bool>(5) {
                report.findings.push(finding(
                    &qualified,
                    "rls-forced",
                    "row-level security is not forced".into(),
                ));
            }
            for f in catalog_findings(client, oid).await? {
                report.findings.push(finding(&qualified, f.0, f.1));
            }
            let viewers = viewers(all, db, &schema, opts.others);
            for (check, detail) in behaviour(client, &schema, &name, &viewers, signer).await? {
                report.findings.push(finding(&qualified, check, detail));
            }
            contexts = viewers.len() + 1;
        }
        report.tables.push(TableLine {
            database: db.to_string(),
            table: qualified,
            scoped,
            contexts,
            findings: report.findings.len() - before,
        });
    }
    Ok(())
}

/// Policy shape, index, foreign keys and grants of one tenant table.
async fn catalog_findings(
    client: &Client,
    oid: u32,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    let policies = client
        .query(
            "SELECT p.polname::text, p.polpermissive, p.polcmd::text, \
                    ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END FROM unnest(p.polroles) AS r), \
                    coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') \
               FROM pg_policy AS p WHERE p.polrelid = $1 ORDER BY 1",
            &[&oid],
        )
        .await?;
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
        .await?;
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

/// The tenants that try to read a table in `schema` of `db`: those placed there, then others.
fn viewers<'a>(all: &'a [Tenant], db: &Database, schema: &str, others: usize) -> Vec<&'a Tenant> {
    let home = |t: &Tenant| {
        schema == "tenantgate" || (t.placement.database() == *db && t.placement.schema() == schema)
    };
    let mut out: Vec<&Tenant> = all.iter().filter(|t| home(t)).collect();
    out.extend(all.iter().filter(|t| !home(t)).take(others));
    out
}

/// Signs audit contexts in the format `migrations/README.md` gives (the gateway's signer lives in the
/// wasm-oriented gateway core; this is the same few lines without its token-verification dependencies).
struct Signer {
    kid: String,
    key: [u8; 32],
}

impl Signer {
    fn sign(&self, claims: &serde_json::Value) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        use hmac::{Hmac, Mac};
        let head = format!(
            "v1.{}.{}",
            self.kid,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(head.as_bytes());
        format!(
            "{head}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }
}

/// A context for tenant `t` as the gateway would sign it for a request with no user.
fn context(signer: &Signer, t: &Tenant) -> String {
    let (plc, db, sch) = match &t.placement {
        PlacementSpec::Shared => ("shared", None, None),
        PlacementSpec::Schema { database, schema } => {
            ("schema", database.target(), Some(schema.as_str()))
        }
        PlacementSpec::Dedicated { database } => ("dedicated", Some(database.as_str()), None),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    signer.sign(&serde_json::json!({
        "tid": t.id.to_string(), "slug": t.slug, "plc": plc, "db": db, "sch": sch, "uid": null,
        "roles": [], "perms": [], "rid": "audit-isolation", "exp": now + 300,
    }))
}

/// Cross-tenant reads and updates as the application role, and reads as the owner role.
async fn behaviour(
    client: &Client,
    schema: &str,
    table: &str,
    viewers: &[&Tenant],
    signer: &Signer,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let q = format!("{}.{}", ident(schema), ident(table));
    let rights = client
        .query_one(
            "SELECT has_table_privilege('tenantgate_app', $1::text::regclass, 'SELECT'), \
                    has_table_privilege('tenantgate_app', $1::text::regclass, 'UPDATE')",
            &[&q],
        )
        .await?;
    let (can_select, can_update): (bool, bool) = (rights.get(0), rights.get(1));
    let mut out = Vec::new();
    // Nothing is visible without a context, as the application role and as the owner.
    for role in ["tenantgate_app", "tenantgate_owner"] {
        if role == "tenantgate_app" && !can_select {
            continue;
        }
        let seen = in_role(
            client,
            role,
            None,
            &format!("SELECT count(*) FROM {q}"),
            &[],
        )
        .await?;
        if seen > 0 {
            out.push((
                "no-context",
                format!("{role} sees {seen} row(s) without a tenant context"),
            ));
        }
    }
    for v in viewers {
        let ctx = context(signer, v);
        let own: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {q} WHERE tenant_id = $1"),
                &[&v.id],
            )
            .await?
            .get(0);
        if can_select {
            let others = in_role(
                client,
                "tenantgate_app",
                Some(&ctx),
                &format!("SELECT count(*) FROM {q} WHERE tenant_id IS DISTINCT FROM $1"),
                &[&v.id],
            )
            .await?;
            if others > 0 {
                out.push((
                    "cross-read",
                    format!(
                        "under {}'s context {others} row(s) of other tenants are visible",
                        v.slug
                    ),
                ));
            }
            let mine = in_role(
                client,
                "tenantgate_app",
                Some(&ctx),
                &format!("SELECT count(*) FROM {q} WHERE tenant_id = $1"),
                &[&v.id],
            )
            .await?;
            if mine != own {
                out.push((
                    "own-rows",
                    format!("{} sees {mine} of its {own} row(s)", v.slug),
                ));
            }
        }
        if can_update {
            let changed = in_role(
                client,
                "tenantgate_app",
                Some(&ctx),
                &format!(
                    "WITH u AS (UPDATE {q} SET tenant_id = tenant_id WHERE tenant_id IS DISTINCT FROM $1 RETURNING 1) \
                     SELECT count(*) FROM u"
                ),
                &[&v.id],
            )
            .await?;
            if changed > 0 {
                out.push((
                    "cross-write",
                    format!(
                        "under {}'s context {changed} row(s) of other tenants are updatable",
                        v.slug
                    ),
                ));
            }
        }
        let owner_seen = in_role(
            client,
            "tenantgate_owner",
            Some(&ctx),
            &format!("SELECT count(*) FROM {q}"),
            &[],
        )
        .await?;
        if owner_seen > 0 {
            out.push((
                "owner-read",
                format!(
                    "the owner role sees {owner_seen} row(s) under {}'s context",
                    v.slug
                ),
            ));
        }
        if out.len() > 20 {
            break;
        }
    }
    Ok(out)
}

/// Runs one counting statement as `role` with the context bound, in a transaction rolled back after.
async fn in_role(
    client: &Client,
    role: &str,
    ctx: Option<&str>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<i64> {
    client.batch_execute("BEGIN").await?;
    let result = async {
        client
            .batch_execute(&format!("SET LOCAL ROLE {}", ident(role)))
            .await?;
        if let Some(c) = ctx {
            client
                .execute("SELECT set_config('tenantgate.context', $1, true)", &[&c])
                .await?;
        }
        let n: i64 = client.query_one(sql, params).await?.get(0);
        Ok::<_, tokio_postgres::Error>(n)
    }
    .await;
    let _ = client.batch_execute("ROLLBACK").await;
    result.map_err(|e| anyhow::anyhow!("{sql}: {}", describe(&e)))
}
