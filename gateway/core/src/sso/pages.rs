//! The pages a person sees at `/auth/`: the login page (which IdP, one button), the error
//! page (what went wrong, its stable code, a way back), the signed-in and signed-out pages.
//! Plain server-rendered HTML with one small stylesheet, labelled controls, no script.

use crate::error::Response;
use tenant_contract::ErrorCode;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;\
color:#1b1b1f}h1{font-size:1.5rem}.card{border:1px solid #d0d0d7;border-radius:.5rem;padding:1.5rem}\
button,.button{display:inline-block;font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:0;\
background:#2b59c3;color:#fff;text-decoration:none;cursor:pointer}button:focus,.button:focus{outline:3px solid \
#f2b705}code{background:#f1f1f4;padding:.1rem .3rem;border-radius:.2rem}.muted{color:#5b5b66}";

/// A complete page: status, HTML, no caching, no framing.
pub fn page(status: u16, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
<style>{STYLE}</style></head><body><main class=\"card\">{body}</main></body></html>",
        escape(title)
    );
    Response {
        status,
        headers: vec![
            (
                "content-type".to_owned(),
                b"text/html; charset=utf-8".to_vec(),
            ),
            ("cache-control".to_owned(), b"no-store".to_vec()),
            ("x-frame-options".to_owned(), b"DENY".to_vec()),
            (
                "content-security-policy".to_owned(),
                b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
                    .to_vec(),
            ),
            ("referrer-policy".to_owned(), b"no-referrer".to_vec()),
        ],
        body: html.into_bytes(),
        cause: None,
    }
}

/// The login page of `tenant_name`: a button that starts the login at `idp_name`
/// (`start_href` is `/auth/sso?return_to=...`).
pub fn login(tenant_name: &str, idp_name: &str, start_href: &str, invited: bool) -> Response {
    let invitation = if invited {
        "<p id=\"invitation\">You have been invited to join this organisation. Sign in with the \
email address the invitation was sent to, and you will join it.</p>"
    } else {
        ""
    };
    page(
        200,
        &format!("Sign in to {tenant_name}"),
        &format!(
            "<h1>Sign in to {}</h1>{invitation}<p>This organisation signs you in with <strong>{}</strong>.</p>\
<p><a class=\"button\" id=\"sso-start\" href=\"{}\">Continue with {}</a></p>",
            escape(tenant_name),
            escape(idp_name),
            escape(start_href),
            escape(idp_name)
        ),
    )
}

/// The page for a signed-in visitor: who, and a sign-out form.
pub fn signed_in(tenant_name: &str, who: &str) -> Response {
    page(
        200,
        &format!("Signed in to {tenant_name}"),
        &format!(
            "<h1>Signed in to {}</h1><p>You are signed in as <code>{}</code>.</p>\
<form method=\"post\" action=\"/auth/logout\"><button type=\"submit\">Sign out</button></form>\
<p><a href=\"/\">Continue</a></p>",
            escape(tenant_name),
            escape(who)
        ),
    )
}

/// The page after signing out.
pub fn signed_out(tenant_name: &str) -> Response {
    page(
        200,
        "Signed out",
        &format!(
            "<h1>Signed out</h1><p>You are signed out of {}.</p>\
<p><a class=\"button\" href=\"/auth/login\">Sign in again</a></p>",
            escape(tenant_name)
        ),
    )
}

/// An error page: the message, the stable code, the request id, a way back to the login.
pub fn error(status: u16, code: ErrorCode, message: &str, request_id: &str) -> Response {
    page(
        status,
        "Sign-in problem",
        &format!(
            "<h1>We could not sign you in</h1><p>{}</p>\
<p class=\"muted\">Error code <code id=\"error-code\">{}</code> · request <code>{}</code></p>\
<p><a class=\"button\" href=\"/auth/login\">Back to sign-in</a></p>",
            escape(message),
            code.as_str(),
            escape(request_id)
        ),
    )
}
