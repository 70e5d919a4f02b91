//! The platform console's static bundle under `/platform`: `GET /platform/assets/<file>` serves
//! that file (embedded at build time), every other `GET /platform[/...]` serves
//! `static/platform.html` (the page router is in the bundle's JS). The files are public (the
//! gateway forwards them whatever the credentials): the console holds no data until the admin
//! pastes a token, and every API call needs it. The DOM helpers and the style sheet are the
//! organisation pages' own files (`components/orgs/static`), embedded from there. Every answer
//! carries the strict CSP of the `/admin` pages (`form-action 'self'` only: the console posts
//! nowhere else) and `cache-control: no-cache`.

use spin_sdk::http::{Request, Response};

/// The Content-Security-Policy of every page and asset: nothing but this origin's own files,
/// no inline script or style, no framing.
pub const CSP: &str = backend_api::assets::STRICT_CSP;

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The embedded files: name, content type, bytes.
const FILES: &[backend_api::assets::File] = &[
    (
        "platform.html",
        "text/html; charset=utf-8",
        include_bytes!("../static/platform.html"),
    ),
    ("app.js", JS, include_bytes!("../static/app.js")),
    ("api.js", JS, include_bytes!("../static/api.js")),
    ("tenants.js", JS, include_bytes!("../static/tenants.js")),
    ("tenant.js", JS, include_bytes!("../static/tenant.js")),
    (
        "platform.css",
        CSS,
        include_bytes!("../static/platform.css"),
    ),
    ("dom.js", JS, include_bytes!("../../orgs/static/dom.js")),
    ("app.css", CSS, include_bytes!("../../orgs/static/app.css")),
];

/// Whether the path is the console's (`/platform` or under it).
pub fn is_console_path(path: &str) -> bool {
    path == "/platform" || path.starts_with("/platform/")
}

/// The file a path names: `(content type, bytes)`, or None (404).
pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    let name = path
        .strip_prefix("/platform/assets/")
        .unwrap_or("platform.html");
    backend_api::assets::find(FILES, name)
}

/// Answers a request for the bundle. Refusals are the bundle's ([`backend_api::assets`]): 405
/// for anything but `GET` and `HEAD`, 404 for a file that is not in the bundle, as JSON or an
/// HTML page; never plain text.
pub fn serve(req: &Request, path: &str) -> Response {
    let bundle = backend_api::assets::Bundle {
        csp: CSP,
        referrer: "no-referrer",
        get_only: "the console is read with GET or HEAD only",
    };
    bundle.serve(req, file(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spin_sdk::http::Method;

    #[test]
    fn pages_and_assets() {
        for page in [
            "/platform",
            "/platform/",
            "/platform/tenants/acme",
            "/platform/sign-in",
        ] {
            let (kind, body) = file(page).unwrap();
            assert!(kind.starts_with("text/html"), "{page}");
            assert!(std::str::from_utf8(body)
                .unwrap()
                .contains("/platform/assets/app.js"));
        }
        for (asset, kind) in [
            ("app.js", JS),
            ("api.js", JS),
            ("tenants.js", JS),
            ("tenant.js", JS),
            ("dom.js", JS),
            ("app.css", CSS),
            ("platform.css", CSS),
        ] {
            assert_eq!(
                file(&format!("/platform/assets/{asset}")).map(|f| f.0),
                Some(kind),
                "{asset}"
            );
        }
        for missing in [
            "/platform/assets/",
            "/platform/assets/../src/lib.rs",
            "/platform/assets/people.js",
            "/platform/assets/x.js",
        ] {
            assert!(file(missing).is_none(), "{missing}");
        }
        assert!(is_console_path("/platform/x") && is_console_path("/platform"));
        assert!(!is_console_path("/platforms") && !is_console_path("/api/platform/me"));
    }

    fn serve(method: &Method, path: &str) -> Response {
        let mut b = Request::builder();
        b.method(method.clone()).uri(path);
        super::serve(&b.build(), path)
    }

    #[test]
    fn every_answer_carries_the_csp_and_only_get_and_head_are_served() {
        let resp = serve(&Method::Get, "/platform/assets/app.js");
        assert_eq!(*resp.status(), 200);
        let header =
            |r: &Response, n: &str| r.header(n).and_then(|v| v.as_str()).map(str::to_owned);
        assert_eq!(
            header(&resp, "content-security-policy").as_deref(),
            Some(CSP)
        );
        assert_eq!(header(&resp, "x-frame-options").as_deref(), Some("DENY"));
        let resp = serve(&Method::Head, "/platform");
        assert_eq!(*resp.status(), 200);
        assert!(resp.body().is_empty());
        let resp = serve(&Method::Post, "/platform");
        assert_eq!(*resp.status(), 405);
        assert_eq!(header(&resp, "allow").as_deref(), Some("GET, HEAD"));
        assert_eq!(
            header(&resp, "content-security-policy").as_deref(),
            Some(CSP)
        );
        assert_eq!(
            header(&resp, "content-type").as_deref(),
            Some("application/json")
        );
        let resp = serve(&Method::Get, "/platform/assets/nope.js");
        assert_eq!(*resp.status(), 404);
        assert_eq!(
            header(&resp, "content-type").as_deref(),
            Some("application/json")
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        assert!(CSP.contains("script-src 'self';") && !CSP.contains("unsafe"));
    }
}
