//! The settings the application roles' connections pin at start-up (issue 22 item 5), so that a
//! role-level setting a backend persisted (`ALTER ROLE CURRENT_USER SET statement_timeout = '1ms'`,
//! which PostgreSQL cannot refuse a role) has no effect on any later connection.
//!
//! A setting sent in the startup packet (libpq's `options=-c name=value`, source "client") outranks
//! role and database settings, and `RESET ALL` returns to it. The list, with the reasons, is
//! `control/connection-options.conf`, read here, by `scripts/demo/env.sh` and by the test
//! harness, so the demo, the tests and a deployment pin the same values:
//!
//! ```
//! let url = tenantgate_control::connection::pin_url("postgres://tenantgate_app@db:5432/app");
//! assert!(url.starts_with("postgres://tenantgate_app@db:5432/app?options=-c%20statement_timeout%3D0%20"));
//! ```

/// `control/connection-options.conf`, as shipped.
pub const OPTIONS_FILE: &str = include_str!("../connection-options.conf");

/// The pinned `(name, value)` pairs, in the file's order.
pub fn pinned_settings() -> Vec<(&'static str, &'static str)> {
    OPTIONS_FILE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect()
}

/// Whether `name` (any case, as PostgreSQL compares parameter names) is pinned.
pub fn is_pinned(name: &str) -> bool {
    pinned_settings()
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// The libpq `options` value: `-c name=value` for each pinned setting, spaces and backslashes in
/// values escaped with a backslash (as the server splits the options).
pub fn options() -> String {
    pinned_settings()
        .iter()
        .map(|(n, v)| {
            let v = v.replace('\\', "\\\\").replace(' ', "\\ ");
            format!("-c {n}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `url` with the pinned options added as its `options` query parameter (percent-encoded, so the
/// URL has no `,`, space or `=` of its own beyond `options=`: it can stand in a `database_targets`
/// list). A URL that already sets `options` is returned unchanged: its owner chose them.
pub fn pin_url(url: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    if query.split('&').any(|p| p.starts_with("options=")) {
        return url.to_owned();
    }
    let mut encoded = String::new();
    for b in options().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options={encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_pins_the_settings_that_stop_or_change_statements() {
        for name in [
            "statement_timeout",
            "lock_timeout",
            "idle_in_transaction_session_timeout",
            "idle_session_timeout",
            "default_transaction_read_only",
            "row_security",
            "search_path",
            "local_preload_libraries",
            "TimeZone",
        ] {
            assert!(is_pinned(name), "{name}");
        }
        assert!(is_pinned("timezone"), "names compare in any case");
        assert!(
            !is_pinned("work_mem"),
            "performance settings are not pinned"
        );
    }

    #[test]
    fn values_with_spaces_are_escaped_and_the_url_is_percent_encoded() {
        let o = options();
        assert!(o.contains("-c default_transaction_isolation=read\\ committed"));
        assert!(
            o.contains("-c local_preload_libraries= -c"),
            "an empty value"
        );
        let url = pin_url("postgres://tenantgate_app@127.0.0.1:5432/postgres");
        let (_, q) = url.split_once("?options=").unwrap();
        assert!(!q.contains([' ', ',', '=', '\\']), "{q}");
        assert!(q.contains("read%5C%20committed"));
        // Another query parameter is kept; options already chosen are left alone.
        let with = pin_url("postgres://u@h/db?sslmode=disable");
        assert!(with.starts_with("postgres://u@h/db?sslmode=disable&options=-c%20"));
        let chosen = "postgres://u@h/db?options=-c%20work_mem%3D4MB";
        assert_eq!(pin_url(chosen), chosen);
    }

    #[test]
    fn tokio_postgres_reads_back_exactly_the_options() {
        // The host's pool and Spin's Postgres capability parse connection strings this way.
        let url = pin_url("postgres://tenantgate_app@127.0.0.1:5432/postgres");
        let config: tokio_postgres::Config = url.parse().unwrap();
        assert_eq!(config.get_options(), Some(options().as_str()));
        assert_eq!(config.get_user(), Some("tenantgate_app"));
    }
}
