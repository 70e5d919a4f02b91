//! Local answers: a [`Response`] the core decided on, sent exactly as it is (status,
//! headers, body).

use gateway_core::decision::Response;
use gateway_core::prelude::*;
use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// Sends the refusal for `error` (the docs/architecture.md §7 JSON, with its headers); returns
/// the status sent.
pub fn error(out: ResponseOutparam, error: GatewayError, rid: &RequestId) -> u16 {
    send(out, error.response().into_response(rid, Some(error)))
}

/// The gateway's own configuration is invalid: deny everything, 503.
pub fn misconfigured(out: ResponseOutparam, rid: &RequestId) -> u16 {
    // The core maps a broken route table to 503 `dependency_unavailable`; any other
    // broken setting is refused the same way.
    error(
        out,
        GatewayError::Route(gateway_core::routes::RouteError::Misconfigured),
        rid,
    )
}

/// Sends `resp`: exactly its status, headers and body. Returns the status.
pub fn send(out: ResponseOutparam, resp: Response) -> u16 {
    let status = resp.status;
    let fields = Fields::from_list(&resp.headers).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(fields);
    let _ = outgoing.set_status_code(resp.status);
    let Ok(body) = outgoing.body() else {
        return status;
    };
    out.set(outgoing);
    if let Ok(stream) = body.write() {
        for chunk in resp.body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                return status;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(body, None);
    status
}
