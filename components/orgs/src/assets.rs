//! The admin pages' static bundle under `/admin`: `GET /admin/assets/<file>` serves
//! `static/<file>` (embedded at build time), every other `GET /admin[/...]` serves
//! `static/admin.html` (the page router is in the bundle's JS). Every answer carries the
//! strict CSP of README "Organisations" and `cache-control: no-cache` (the files carry no
//! content hash, so browsers revalidate them).

use spin_sdk::http::{Request, Response};

/// The Content-Security-Policy of every page and asset: nothing but this origin's own files,
/// no inline script or style, no framing; forms post to this origin or, see [`csp`], to the
/// other organisations' hosts on the same apex.
pub const CSP: &str = backend_api::assets::STRICT_CSP;

/// [`CSP`] for a page served on `tenant_host` (the gateway's `x-tenant-host`) of organisation
/// `slug`. When the host is `<slug>.<apex>`, `form-action` also admits `*.<apex>` (any port):
/// switching organisations (and opening one just created) is a form `POST /auth/switch` that
/// the gateway answers with a redirect to `<other>.<apex>`, and browsers check `form-action`
/// against every redirect of a form submission, so with `'self'` alone Chromium blocks the
/// switch. On a custom domain the apex is unknown and `form-action` stays `'self'`.
pub fn csp(tenant_host: Option<&str>, slug: Option<&str>) -> String {
    let apex = tenant_host
        .zip(slug)
        .and_then(|(host, slug)| host.strip_prefix(slug)?.strip_prefix('.'))
        .filter(|apex| {
            !apex.is_empty()
                && apex
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        });
    match apex {
        Some(apex) => CSP.replace(
            "form-action 'self';",
            &format!("form-action 'self' *.{apex}:*;"),
        ),
        None => CSP.to_owned(),
    }
}

/// The embedded files: name, content type, bytes.
const FILES: &[backend_api::assets::File] = &[
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
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/dom.js"),
    ),
    (
        "people.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/people.js"),
    ),
    (
        "access.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/access.js"),
    ),
    (
        "records.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/records.js"),
    ),
    (
        "orgs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/orgs.js"),
    ),
];

/// Whether the path is the bundle's (`/admin` or under it).
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The file a path names: `(content type, bytes)`, or None (404).
pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    let name = path.strip_prefix("/admin/assets/").unwrap_or("admin.html");
    backend_api::assets::find(FILES, name)
}

/// Answers a request for the bundle; `csp` is the page's policy ([`csp`]). Refusals are the
/// bundle's ([`backend_api::assets`]): 405 for anything but `GET` and `HEAD`, 404 for a file
/// that is not in the bundle, as JSON or an HTML page; never plain text.
pub fn serve(req: &Request, path: &str, csp: &str) -> Response {
    let bundle = backend_api::assets::Bundle {
        csp,
        referrer: "same-origin",
        get_only: "the organisation pages are read with GET or HEAD only",
    };
    bundle.serve(req, file(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spin_sdk::http::Method;

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
        for module in ["api", "dom", "people", "access", "records", "orgs"] {
            assert!(
                file(&format!("/admin/assets/{module}.js")).is_some(),
                "{module}"
            );
        }
        assert!(is_admin_path("/admin/x") && is_admin_path("/admin"));
        assert!(!is_admin_path("/administrator") && !is_admin_path("/api/org/me"));
    }

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder();
        b.method(method).uri(path);
        for (n, v) in headers {
            b.header(*n, *v);
        }
        b.build()
    }

    fn header(r: &Response, n: &str) -> String {
        r.header(n)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn refusals_are_the_apis_never_plain_text() {
        let serve = |m: Method, path: &str, h: &[(&str, &str)]| {
            let req = request(m, path, h);
            serve(&req, path, CSP)
        };
        let r = serve(Method::Get, "/admin/assets/nope.js", &[]);
        assert_eq!(*r.status(), 404);
        assert_eq!(header(&r, "content-type"), "application/json");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(header(&r, "content-security-policy"), CSP);
        let r = serve(Method::Post, "/admin", &[("accept", "text/html")]);
        assert_eq!(*r.status(), 405);
        assert_eq!(header(&r, "allow"), "GET, HEAD");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["error"]["code"], "method_not_allowed");
        let r = serve(
            Method::Get,
            "/admin/assets/nope.js",
            &[("sec-fetch-mode", "navigate")],
        );
        assert_eq!(*r.status(), 404);
        assert!(header(&r, "content-type").starts_with("text/html"));
        let r = serve(Method::Get, "/admin/assets/app.js", &[]);
        assert_eq!(*r.status(), 200);
        assert!(header(&r, "content-type").starts_with("text/javascript"));
    }

    #[test]
    fn forms_may_post_to_the_other_organisations_of_the_apex_only() {
        let with = |host, slug| csp(Some(host), Some(slug));
        assert!(with("acme.localhost", "acme").contains("form-action 'self' *.localhost:*;"));
        assert!(with("acme.app.example.com", "acme")
            .contains("form-action 'self' *.app.example.com:*;"));
        // A custom domain, a host that is not the slug's, or nothing known: 'self' only.
        for (host, slug) in [("portal.acme.test", "acme"), ("acmex.localhost", "acme")] {
            assert_eq!(with(host, slug), CSP, "{host}");
        }
        assert_eq!(csp(None, Some("acme")), CSP);
        assert_eq!(csp(Some("acme.localhost"), None), CSP);
        // Nothing but host characters reaches the header.
        assert_eq!(with("acme.local host;script-src *", "acme"), CSP);
        assert!(CSP.contains("form-action 'self';"));
    }
}
