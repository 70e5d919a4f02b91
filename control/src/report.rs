//! Turning errors into the text an operator reads: [`report`] walks an error's causes, [`describe`]
//! gives a Postgres error's server message, detail and hint, and `Doing` attaches the step that
//! failed to a Postgres or I/O error as it becomes an [`Error`].

use std::fmt::Display;

use crate::error::{Error, Result};

/// Adds the step that failed to a Postgres or I/O error.
pub(crate) trait Doing<T> {
    /// `Err(e)` becomes the variant for `e` with `doing` as its text.
    fn doing(self, doing: impl Display) -> Result<T>;
}

impl<T> Doing<T> for Result<T, tokio_postgres::Error> {
    fn doing(self, doing: impl Display) -> Result<T> {
        self.map_err(|source| Error::Postgres {
            doing: doing.to_string(),
            source,
        })
    }
}

impl<T> Doing<T> for Result<T, std::io::Error> {
    fn doing(self, doing: impl Display) -> Result<T> {
        self.map_err(|source| Error::Io {
            doing: doing.to_string(),
            source,
        })
    }
}

/// `err` and its sources, `: `-separated, as the CLI prints them; a Postgres error is given as
/// [`describe`] gives it (server message, detail, hint) and ends the chain.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(pg) = e.downcast_ref::<tokio_postgres::Error>() {
            parts.push(describe(pg));
            break;
        }
        parts.push(e.to_string());
        next = e.source();
    }
    parts.join(": ")
}

/// A Postgres error with its server message, detail and hint when there is one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = db.message().to_string();
            if let Some(d) = db.detail() {
                s.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!(" hint: {h}"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(&format!(": {inner}"));
                src = inner.source();
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_each_step_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e: Result<()> = Err(io).doing("reading ./migrations");
        assert_eq!(report(&e.unwrap_err()), "reading ./migrations: gone");
        let failed = Error::MoveFailed {
            cleanup: vec!["read-only could not be lifted".into()],
            cause: Box::new(Error::UnknownTenant { slug: "x".into() }),
        };
        assert_eq!(
            report(&failed),
            "move failed, the old placement is still authoritative; read-only could not be lifted: \
             no tenant with slug \"x\""
        );
    }
}
