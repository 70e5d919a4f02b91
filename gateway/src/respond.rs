//! Synthetic responses: every refusal in the one JSON shape.

use gateway_core::prelude::*;
use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// Sends `resp` (status, code, message, extra headers) as the DESIGN.md section 7 body.
pub fn error(out: ResponseOutparam, resp: &ErrorResponse, rid: &RequestId) {
    let mut headers = vec![
        ("content-type".to_owned(), b"application/json".to_vec()),
        ("x-request-id".to_owned(), rid.as_str().as_bytes().to_vec()),
        ("cache-control".to_owned(), b"no-store".to_vec()),
    ];
    for (k, v) in resp.headers() {
        headers.push((k.to_owned(), v.as_bytes().to_vec()));
    }
    if resp.status == 503 {
        headers.push(("retry-after".to_owned(), b"5".to_vec()));
    }
    send(out, resp.status, headers, resp.body(rid).into_bytes());
}

/// The gateway's own configuration is invalid: deny everything, 503.
pub fn misconfigured(out: ResponseOutparam, rid: &RequestId) {
    // The core maps a broken route table to 503 `dependency_unavailable`; any other
    // broken setting is refused the same way.
    error(
        out,
        &GatewayError::Route(gateway_core::routes::RouteError::Misconfigured).response(),
        rid,
    )
}

/// Sends a complete response.
pub fn send(out: ResponseOutparam, status: u16, headers: Vec<(String, Vec<u8>)>, body: Vec<u8>) {
    let fields = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let resp = OutgoingResponse::new(fields);
    let _ = resp.set_status_code(status);
    let Ok(outgoing) = resp.body() else { return };
    out.set(resp);
    if let Ok(stream) = outgoing.write() {
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
