//! Which statements a component may send through the Postgres capability.
//!
//! A backend needs queries, data changes and transaction control, nothing else. Anything
//! else a component could send as the shared application role may outlive its transaction
//! or reach other tenants' sessions: `ALTER ROLE CURRENT_USER SET ...` or `PASSWORD` (every
//! future connection of every tenant), `SET`/`RESET` at session level, `COPY`, `EXPLAIN`
//! (row counts of every tenant in "Rows Removed by Filter"), `LISTEN`/`NOTIFY`, `DO`, `CALL`,
//! `PREPARE`, `LOCK`, DDL and grants. With [`StatementFilter::Backend`] (the default) the host
//! parses every statement a component sends (sqlparser, PostgreSQL dialect) and accepts it
//! only when each statement of the text is one of:
//!
//! - a query (`SELECT`, `VALUES`, `TABLE`, `WITH ...`) without `SELECT ... INTO`;
//! - `INSERT`, `UPDATE`, `DELETE`, `MERGE`;
//! - `BEGIN` / `START TRANSACTION` (any modes, e.g. `READ ONLY`), `COMMIT`, `ROLLBACK`
//!   (also `TO SAVEPOINT`), `SAVEPOINT`, `RELEASE SAVEPOINT`.
//!
//! Everything else, and text the parser cannot parse, is refused with [`refusal`]'s message
//! before it reaches Postgres. Session settings made by a query (`set_config(..., false)`) are
//! not a statement kind: the pool's reset discards them before the connection serves anyone
//! else ([`super::RESET_SESSION`]), and the database refuses what it can (migrations 0006).
//! The host's own statements (the pool reset) do not pass through here.
//!
//! Cost: parsing the tasks list statement in its one-row envelope (438 bytes) takes ~90 µs in a
//! release build here; a text accepted before is found in ~0.2 µs, so a backend that sends
//! parameterised statements pays the parse once per text (up to 1024 texts, then the
//! memory starts over).
//!
//! Spin has no such filter: [`StatementFilter::Off`] (`--pg-statements any`) sends every
//! statement as Spin does; the database's own hardening and `tenantgate audit isolation` are
//! what protect a deployment on Spin (README, "What PostgreSQL cannot refuse").

use std::collections::HashSet;
use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::Mutex;

use sqlparser::ast::{Query, SetExpr, Statement, Visit, Visitor};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Which statements the Postgres capability accepts from components.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatementFilter {
    /// Queries, data changes and transaction control only (the default).
    #[default]
    Backend,
    /// Every statement, as Spin sends it.
    Off,
}

impl FromStr for StatementFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "backend" => Ok(StatementFilter::Backend),
            "any" | "off" => Ok(StatementFilter::Off),
            other => Err(format!(
                "unknown Postgres statement filter {other:?} (expected \"backend\" or \"any\")"
            )),
        }
    }
}

impl fmt::Display for StatementFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatementFilter::Backend => "backend",
            StatementFilter::Off => "any",
        })
    }
}

/// The error a refused statement gets (the guest sees it as `other`).
pub fn refusal(why: &str) -> String {
    format!(
        "statement refused by the host: {why}; a component may send queries (SELECT, VALUES, WITH), \
         INSERT/UPDATE/DELETE/MERGE and transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, \
         RELEASE) only"
    )
}

/// Accepted statement texts remembered, so a backend's repeated statements are parsed once.
const REMEMBERED: usize = 1024;

/// A [`StatementFilter`] with a bounded memory of the texts it accepted.
#[derive(Debug, Default)]
pub struct StatementGate {
    filter: StatementFilter,
    accepted: Mutex<HashSet<String>>,
}

impl StatementGate {
    /// A gate applying `filter`.
    pub fn new(filter: StatementFilter) -> StatementGate {
        StatementGate {
            filter,
            accepted: Mutex::new(HashSet::new()),
        }
    }

    /// The filter applied.
    pub fn filter(&self) -> StatementFilter {
        self.filter
    }

    /// `Ok` when `sql` may be sent, else the message the component gets.
    pub fn check(&self, sql: &str) -> Result<(), String> {
        if self.filter == StatementFilter::Off {
            return Ok(());
        }
        let lock = || self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        if lock().contains(sql) {
            return Ok(());
        }
        check(sql).map_err(|why| refusal(&why))?;
        let mut accepted = lock();
        if accepted.len() >= REMEMBERED {
            accepted.clear();
        }
        accepted.insert(sql.to_owned());
        Ok(())
    }
}

/// Why `sql` is not only statements a backend needs, if it is not.
pub fn check(sql: &str) -> Result<(), String> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| format!("the text does not parse as PostgreSQL ({e})"))?;
    if statements.is_empty() {
        return Err("the text holds no statement".into());
    }
    statements.iter().try_for_each(allowed)
}

fn allowed(statement: &Statement) -> Result<(), String> {
    match statement {
        Statement::Query(_) => no_select_into(statement),
        Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_)
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => Ok(()),
        Statement::StartTransaction {
            statements,
            exception,
            ..
        } if statements.is_empty() && exception.is_none() => Ok(()),
        other => Err(format!("{} is not allowed", kind(other))),
    }
}

/// `SELECT ... INTO` creates a table: refused in any query of the statement (a common table
/// expression, a sub-query, a set operation).
fn no_select_into(statement: &Statement) -> Result<(), String> {
    struct FindInto;
    impl Visitor for FindInto {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if has_into(&query.body) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    fn has_into(body: &SetExpr) -> bool {
        match body {
            SetExpr::Select(s) => s.into.is_some(),
            SetExpr::SetOperation { left, right, .. } => has_into(left) || has_into(right),
            _ => false,
        }
    }
    match statement.visit(&mut FindInto) {
        ControlFlow::Break(()) => Err("SELECT ... INTO is not allowed".into()),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The statement's kind for the message: its first keyword, or two for `ALTER`, `CREATE` and
/// `DROP` (`ALTER ROLE`, `CREATE TABLE`, `COPY`, `EXPLAIN`, ...).
fn kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or("the statement");
    match (first, words.next()) {
        ("ALTER" | "CREATE" | "DROP", Some(second)) => format!("{first} {second}"),
        _ => first.to_owned(),
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
