//! The admin pages' static bundle under `/admin`: `GET /admin/assets/<file>` serves
//! `static/<file>` (embedded at build time), every other `GET /admin[/...]` serves
//! `static/admin.html` (the page router is in the bundle's JS). Every answer carries the
//! strict CSP of README "Organisations" and `cache-control: no-cache` (the files carry no
//! content hash, so browsers revalidate them).

use spin_sdk::http::{Method, Response};

/// The Content-Security-Policy of every page and asset: nothing but this origin's own files,
/// no inline script or style, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The embedded files: name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "admin.html",
        "text/html; charset=utf-8",
        include_bytes!("../static/admin.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/app.css"),
    ),
];

/// Whether the path is the bundle's (`/admin` or under it).
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The file a path names: `(content type, bytes)`, or None (404).
pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    let name = path.strip_prefix("/admin/assets/").unwrap_or("admin.html");
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, bytes)| (*kind, *bytes))
}

/// Answers a request for the bundle.
pub fn serve(method: &Method, path: &str) -> Response {
    let head = matches!(method, Method::Head);
    if !head && !matches!(method, Method::Get) {
        return respond(
            405,
            "text/plain; charset=utf-8",
            b"method not allowed\n",
            false,
        )
        .header("allow", "GET, HEAD")
        .build();
    }
    match file(path) {
        Some((kind, bytes)) => respond(200, kind, bytes, head).build(),
        None => respond(404, "text/plain; charset=utf-8", b"not found\n", head).build(),
    }
}

fn respond(status: u16, kind: &str, body: &[u8], head: bool) -> spin_sdk::http::ResponseBuilder {
    let mut b = Response::builder();
    b.status(status)
        .header("content-type", kind)
        .header("content-security-policy", CSP)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "same-origin")
        .header("x-frame-options", "DENY")
        .header("cache-control", "no-cache")
        .body(if head { Vec::new() } else { body.to_vec() });
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_assets() {
        for page in ["/admin", "/admin/", "/admin/members", "/admin/accept"] {
            let (kind, body) = file(page).unwrap();
            assert!(kind.starts_with("text/html"), "{page}");
            assert!(std::str::from_utf8(body)
                .unwrap()
                .contains("/admin/assets/app.js"));
        }
        assert!(file("/admin/assets/app.js")
            .unwrap()
            .0
            .starts_with("text/javascript"));
        assert!(file("/admin/assets/app.css")
            .unwrap()
            .0
            .starts_with("text/css"));
        for missing in [
            "/admin/assets/",
            "/admin/assets/../lib.rs",
            "/admin/assets/x.js",
        ] {
            assert!(file(missing).is_none(), "{missing}");
        }
        assert!(is_admin_path("/admin/x") && is_admin_path("/admin"));
        assert!(!is_admin_path("/administrator") && !is_admin_path("/api/org/me"));
    }
}
