//! The app's root page: says which host and app answered. Every other path is 404.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    if req.path() != "/" {
        return Ok(Response::builder().status(404).body("not found\n").build());
    }
    let host = req
        .header("spin-full-url")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned();
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain; charset=utf-8")
        .body(format!("tenantgate is running\nrequest: {host}\n"))
        .build())
}
