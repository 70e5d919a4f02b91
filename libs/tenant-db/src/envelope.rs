//! The one-row envelope: no query a backend sends through this crate returns zero rows.
//!
//! Spin 4.0.0–4.0.2 (and SpinKube's shim, which carries 4.0.1) never answers a Postgres
//! `query` whose result has no row (Spin issue #3671): the guest blocks inside the host
//! call for good, so every "not found" would hang its request. [`wrap`] rewrites a
//! statement that returns rows so that it always returns at least one, with a marker
//! column in front:
//!
//! ```text
//! SELECT id, title FROM tasks WHERE id = $1
//!   ⇒ WITH tenantgate_q AS (SELECT id, title FROM tasks WHERE id = $1)
//!     SELECT tenantgate_r.* FROM (VALUES (1)) AS tenantgate_one (x)
//!     LEFT JOIN (SELECT true AS tenantgate_row, tenantgate_q.* FROM tenantgate_q) AS tenantgate_r ON true
//! ```
//!
//! and [`unwrap`] turns the answer back into exactly what the statement returned: the
//! marker column goes, and the single row whose marker is NULL (the statement matched
//! nothing) means no rows. So code above keeps its `Option`s and empty lists.
//!
//! - A statement starting with `WITH` keeps its own common table expressions at the top
//!   level (where Postgres requires data-modifying ones) and gets `tenantgate_q` appended
//!   to the list, around its main statement.
//! - Order is kept: the join's outer side is one constant row and no join condition can
//!   be hashed or merged, so Postgres runs a nested loop that reads the statement's rows
//!   in their own order (a sorted statement keeps its sort; Postgres does not flatten a
//!   sub-query that has `ORDER BY`). `tests/backends` checks a 50-row page's order.
//! - Only statements that return rows are wrapped: `SELECT`, `VALUES`, `TABLE`, a
//!   parenthesised query, `WITH … <one of those>`, and `INSERT`/`UPDATE`/`DELETE`/`MERGE`
//!   with a top-level `RETURNING`. [`wrap`] returns `None` for anything else (utility
//!   statements, a multi-statement string, unbalanced text): those go to Postgres as they
//!   are, and belong in `execute`, which returns no rows on any Spin.
//!
//! The statement is read by a small lexer that knows Postgres' quoting (strings, `E''`,
//! dollar quotes, quoted identifiers, nested comments), so a keyword inside a string or a
//! comment never changes the decision.

use spin_sdk::pg4::RowSet;

/// The name of the marker column [`wrap`] puts first.
pub const MARKER: &str = "tenantgate_row";

/// What follows the wrapped statement: one constant row, left-joined to the statement's rows
/// with the [`MARKER`] column in front.
const TAIL: &str = "SELECT tenantgate_r.* FROM (VALUES (1)) AS tenantgate_one (x) LEFT JOIN \
     (SELECT true AS tenantgate_row, tenantgate_q.* FROM tenantgate_q) AS tenantgate_r ON true";

/// A statement rewritten to always return at least one row, or `None` when `sql` is
/// not a statement that returns rows (run it unchanged; prefer `execute`).
pub fn wrap(sql: &str) -> Option<String> {
    let tokens = lex(sql)?;
    // One statement only: a trailing `;` is dropped, any other one refuses.
    let mut end = sql.len();
    let mut tokens = tokens.as_slice();
    if let Some((last, rest)) = tokens.split_last() {
        if last.kind == Kind::Semicolon {
            end = last.start;
            tokens = rest;
        }
    }
    if tokens.iter().any(|t| t.kind == Kind::Semicolon) {
        return None;
    }
    let first = tokens.first()?;
    if first.is_word("with") {
        let main = main_statement(tokens)?;
        if !returns_rows(&tokens[main..]) {
            return None;
        }
        let (ctes, body) = sql[..end].split_at(tokens[main].start);
        return Some(format!(
            "{}, tenantgate_q AS ({}) {TAIL}",
            ctes.trim_end(),
            body
        ));
    }
    if !returns_rows(tokens) {
        return None;
    }
    Some(format!(
        "WITH tenantgate_q AS ({}) {TAIL}",
        sql[first.start..end].trim_end()
    ))
}

/// The statement's own result from the answer to its [`wrap`]ped form: the marker
/// column removed, and no rows when the only row's marker is NULL.
pub fn unwrap(mut rows: RowSet) -> RowSet {
    if rows.columns.first().is_some_and(|c| c.name == MARKER) {
        rows.columns.remove(0);
        // A row with a NULL marker is the constant row alone: the statement matched nothing.
        rows.rows
            .retain(|row| !matches!(row.first(), None | Some(spin_sdk::pg4::DbValue::DbNull)));
        for row in &mut rows.rows {
            row.remove(0);
        }
    }
    rows
}

/// Runs `sql` on `conn` in the envelope when it returns rows (unchanged otherwise) and
/// returns its own result: for raw connections, e.g. the gateway's or a test fixture's.
pub fn query(
    conn: &spin_sdk::pg4::Connection,
    sql: &str,
    params: &[spin_sdk::pg4::ParameterValue],
) -> Result<RowSet, crate::DbError> {
    match wrap(sql) {
        Some(wrapped) => conn
            .query(&wrapped, params)
            .map(unwrap)
            .map_err(crate::DbError::from),
        None => conn.query(sql, params).map_err(crate::DbError::from),
    }
}

/// Whether the statement (its tokens, without `WITH`) produces rows.
fn returns_rows(tokens: &[Token]) -> bool {
    let Some(first) = tokens.first() else {
        return false;
    };
    if first.kind == Kind::Open
        || ["select", "values", "table"]
            .iter()
            .any(|k| first.is_word(k))
    {
        return true;
    }
    ["insert", "update", "delete", "merge"]
        .iter()
        .any(|k| first.is_word(k))
        && tokens
            .iter()
            .any(|t| t.depth == 0 && t.is_word("returning"))
}

/// The index of the first token of the main statement after a `WITH` list: the first
/// top-level `SELECT`/`VALUES`/`TABLE`/`INSERT`/`UPDATE`/`DELETE`/`MERGE` that follows
/// the end of a common table expression (a `)` or, after `SEARCH`/`CYCLE`, a word).
fn main_statement(tokens: &[Token]) -> Option<usize> {
    const MAIN: [&str; 7] = [
        "select", "values", "table", "insert", "update", "delete", "merge",
    ];
    (2..tokens.len()).find(|&i| {
        let t = &tokens[i];
        t.depth == 0
            && MAIN.iter().any(|k| t.is_word(k))
            && matches!(tokens[i - 1].kind, Kind::Close | Kind::Word | Kind::Quoted)
            && !tokens[i - 1].is_word("as")
            && !tokens
                .get(i + 1)
                .is_some_and(|n| n.is_word("as") || n.kind == Kind::Open)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Quoted,
    Literal,
    Open,
    Close,
    Semicolon,
    Other,
}

#[derive(Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    /// Parenthesis depth at the token (an opening parenthesis is at its outer depth).
    depth: u32,
}

impl Token<'_> {
    fn is_word(&self, w: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(w)
    }
}

/// Postgres' lexical structure, as far as the envelope needs it. `None` for text that
/// does not lex (an unterminated string or comment, unbalanced parentheses).
fn lex(sql: &str) -> Option<Vec<Token<'_>>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut depth: u32 = 0;
    let mut i = 0;
    let word_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(b, i)?;
                continue;
            }
            b'\'' => {
                i = quoted_end(b, i, b'\'', false)?;
                Kind::Literal
            }
            b'"' => {
                i = quoted_end(b, i, b'"', false)?;
                Kind::Quoted
            }
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                Kind::Other
            }
            b'$' => {
                i = dollar_quoted_end(sql, i)?;
                Kind::Literal
            }
            b'(' => {
                i += 1;
                depth += 1;
                out.push(Token {
                    kind: Kind::Open,
                    text: "(",
                    start,
                    depth: depth - 1,
                });
                continue;
            }
            b')' => {
                i += 1;
                depth = depth.checked_sub(1)?;
                Kind::Close
            }
            b';' => {
                i += 1;
                Kind::Semicolon
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while b.get(i).is_some_and(|&c| word_byte(c)) {
                    i += 1;
                }
                // E'...' (backslash escapes), and B'', X'', N'', U&'' prefixes.
                if b.get(i) == Some(&b'\'') && i - start == 1 {
                    let escapes = c.eq_ignore_ascii_case(&b'e');
                    i = quoted_end(b, i, b'\'', escapes)?;
                    Kind::Literal
                } else if b.get(i) == Some(&b'&')
                    && i - start == 1
                    && c.eq_ignore_ascii_case(&b'u')
                    && matches!(b.get(i + 1), Some(b'\'' | b'"'))
                {
                    let q = b[i + 1];
                    i = quoted_end(b, i + 1, q, false)?;
                    if q == b'"' {
                        Kind::Quoted
                    } else {
                        Kind::Literal
                    }
                } else {
                    Kind::Word
                }
            }
            _ => {
                i += 1;
                Kind::Other
            }
        };
        out.push(Token {
            kind,
            text: &sql[start..i],
            start,
            depth,
        });
    }
    (depth == 0).then_some(out)
}

/// The index just past a `q`-quoted run starting at `i` (doubled `q` escapes `q`;
/// with `backslashes`, so does `\`).
fn quoted_end(b: &[u8], mut i: usize, q: u8, backslashes: bool) -> Option<usize> {
    i += 1;
    loop {
        match *b.get(i)? {
            b'\\' if backslashes => i += 2,
            c if c == q => {
                if b.get(i + 1) == Some(&q) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
}

/// The index just past a (nesting) `/* */` comment starting at `i`.
fn block_comment_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut nest = 0u32;
    loop {
        if b.get(i..i + 2)? == b"/*" {
            nest += 1;
            i += 2;
        } else if b.get(i..i + 2)? == b"*/" {
            nest -= 1;
            i += 2;
            if nest == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
}

/// The index just past `$tag$ ... $tag$` starting at `i`; a lone `$` is an operator
/// character for our purposes (it cannot start a statement we wrap).
fn dollar_quoted_end(sql: &str, i: usize) -> Option<usize> {
    let b = sql.as_bytes();
    let tag_len = b[i + 1..]
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80))
        .unwrap_or(b.len() - i - 1);
    if b.get(i + 1 + tag_len) != Some(&b'$') {
        return Some(i + 1);
    }
    let tag = &sql[i..i + tag_len + 2];
    let body = i + tag.len();
    sql[body..].find(tag).map(|p| body + p + tag.len())
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
