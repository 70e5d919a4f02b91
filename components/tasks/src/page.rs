//! The tenant's home page: `GET /` on a tenant's host serves `static/home.html`, and
//! `/assets/<file>` its script and the organisation pages' shared modules and stylesheet
//! (`components/orgs/static`: one copy of the CSS and DOM helpers for every page of a tenant).
//! The page is a static shell; what it shows comes from the API (`/api/tasks`,
//! `/api/projects`) under the reader's own permissions. Every answer carries the strict CSP
//! the `/admin` pages have ([`backend_api::assets::STRICT_CSP`]).

use spin_sdk::http::{Request, Response};

const FILES: &[backend_api::assets::File] = &[
    (
        "home.html",
        "text/html; charset=utf-8",
        include_bytes!("../static/home.html"),
    ),
    (
        "home.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/home.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../orgs/static/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../orgs/static/dom.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../orgs/static/app.css"),
    ),
];

/// Whether `path` is the page's: `/` or under `/assets/`.
pub fn is_page_path(path: &str) -> bool {
    path == "/" || path.starts_with("/assets/")
}

/// The file `path` names: `(content type, bytes)`, or None (404).
pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    let name = match path {
        "/" => "home.html",
        // The page itself is `/`, never a file of the bundle.
        p => p.strip_prefix("/assets/").filter(|n| *n != "home.html")?,
    };
    backend_api::assets::find(FILES, name)
}

/// Answers a request for the page or one of its files.
pub fn serve(req: &Request, path: &str) -> Response {
    let bundle = backend_api::assets::Bundle {
        csp: backend_api::assets::STRICT_CSP,
        referrer: "same-origin",
        get_only: "the home page is read with GET or HEAD only",
    };
    bundle.serve(req, file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files() {
        let (kind, body) = file("/").unwrap();
        assert!(kind.starts_with("text/html"));
        let html = std::str::from_utf8(body).unwrap();
        for asset in ["/assets/home.js", "/assets/app.css"] {
            assert!(html.contains(asset), "{asset}");
            assert!(file(asset).is_some(), "{asset}");
        }
        let script = std::str::from_utf8(file("/assets/home.js").unwrap().1).unwrap();
        for import in ["/assets/api.js", "/assets/dom.js"] {
            assert!(script.contains(import), "{import}");
            assert!(file(import).unwrap().0.starts_with("text/javascript"));
        }
        for missing in [
            "/assets/",
            "/assets/home.html",
            "/assets/../src/lib.rs",
            "/assets/app.js",
            "/home.html",
        ] {
            assert!(file(missing).is_none(), "{missing}");
        }
        assert!(is_page_path("/") && is_page_path("/assets/x"));
        assert!(!is_page_path("/api/tasks") && !is_page_path("/assetsx") && !is_page_path(""));
    }

    #[test]
    fn no_inline_script_or_style() {
        let html = std::str::from_utf8(file("/").unwrap().1).unwrap();
        assert!(!html.contains("<style"));
        assert!(!html.contains(" style="));
        for tag in html.split("<script").skip(1) {
            assert!(
                tag.trim_start().starts_with("type=\"module\" src="),
                "{tag}"
            );
        }
    }
}
