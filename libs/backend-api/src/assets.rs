//! A component's embedded static bundle (the `/admin` pages, the `/platform` console, the
//! tenant's home page): one answer for every file, one refusal for everything else.
//!
//! Every answer and every refusal carries the page's Content-Security-Policy,
//! `x-content-type-options: nosniff` and `x-frame-options: DENY`; files are
//! `cache-control: no-cache` (they carry no content hash, so browsers revalidate them). Only
//! `GET` and `HEAD` read a bundle: anything else is 405 `method_not_allowed` with `Allow`; a
//! file that is not in the bundle is 404 `not_found`; both as [`crate::refusal`] answers them
//! (JSON, or an HTML page to a browser navigation), never plain text.

use spin_sdk::http::{Method, Request, Response};
use tenant_contract::ErrorCode;

/// The strict policy every bundle starts from: nothing but this origin's own files, no inline
/// script or style, no framing, forms post to this origin only.
pub const STRICT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                              img-src 'self'; connect-src 'self'; form-action 'self'; \
                              frame-ancestors 'none'; base-uri 'none'";

/// One embedded file: its name, content type and bytes.
pub type File = (&'static str, &'static str, &'static [u8]);

/// How a bundle is answered.
pub struct Bundle<'a> {
    /// The page's Content-Security-Policy.
    pub csp: &'a str,
    /// The `Referrer-Policy` of its files.
    pub referrer: &'a str,
    /// The 405's message ("the console is read with GET or HEAD only").
    pub get_only: &'a str,
}

/// The file named `name` in `files`: `(content type, bytes)`.
pub fn find(files: &[File], name: &str) -> Option<(&'static str, &'static [u8])> {
    files
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, bytes)| (*kind, *bytes))
}

impl Bundle<'_> {
    /// Answers `req` with `file` (as [`find`] gives it), or the refusal.
    pub fn serve(&self, req: &Request, file: Option<(&str, &[u8])>) -> Response {
        let head = matches!(req.method(), Method::Head);
        let guard = [
            ("content-security-policy", self.csp),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
        ];
        if !head && !matches!(req.method(), Method::Get) {
            let mut extra = guard.to_vec();
            extra.push(("allow", "GET, HEAD"));
            return crate::refusal(req, 405, ErrorCode::MethodNotAllowed, self.get_only, &extra);
        }
        let Some((kind, body)) = file else {
            return crate::refusal(req, 404, ErrorCode::NotFound, "no such file", &guard);
        };
        let mut b = Response::builder();
        b.status(200).header("content-type", kind);
        for (name, value) in guard {
            b.header(name, value);
        }
        b.header("referrer-policy", self.referrer)
            .header("cache-control", "no-cache")
            .body(if head { Vec::new() } else { body.to_vec() });
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: &[File] = &[("a.js", "text/javascript", b"export {};")];
    const BUNDLE: Bundle = Bundle {
        csp: STRICT_CSP,
        referrer: "no-referrer",
        get_only: "the pages are read with GET or HEAD only",
    };

    fn request(method: Method) -> Request {
        let mut b = Request::builder();
        b.method(method).uri("/assets/a.js");
        b.header("x-request-id", "r-1");
        b.build()
    }

    fn header(r: &Response, name: &str) -> Option<String> {
        r.header(name).and_then(|v| v.as_str()).map(str::to_owned)
    }

    #[test]
    fn files_refusals_and_their_headers() {
        let ok = BUNDLE.serve(&request(Method::Get), find(FILES, "a.js"));
        assert_eq!(*ok.status(), 200);
        assert_eq!(ok.body(), b"export {};");
        assert_eq!(header(&ok, "cache-control").as_deref(), Some("no-cache"));
        let head = BUNDLE.serve(&request(Method::Head), find(FILES, "a.js"));
        assert_eq!((*head.status(), head.body().len()), (200, 0));
        let missing = BUNDLE.serve(&request(Method::Get), find(FILES, "b.js"));
        assert_eq!(*missing.status(), 404);
        let post = BUNDLE.serve(&request(Method::Post), find(FILES, "a.js"));
        assert_eq!(*post.status(), 405);
        assert_eq!(header(&post, "allow").as_deref(), Some("GET, HEAD"));
        assert!(String::from_utf8_lossy(post.body()).contains("the pages are read with GET"));
        for r in [&ok, &head, &missing, &post] {
            assert_eq!(
                header(r, "content-security-policy").as_deref(),
                Some(STRICT_CSP)
            );
            assert_eq!(header(r, "x-frame-options").as_deref(), Some("DENY"));
            assert_eq!(
                header(r, "x-content-type-options").as_deref(),
                Some("nosniff")
            );
        }
    }
}
