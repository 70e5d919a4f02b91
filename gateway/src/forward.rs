//! Forwarding a permitted request to its backend by service chaining, streaming the
//! request body (counted against the cap) and the response body.

use futures::{SinkExt, StreamExt};
use gateway_core::prelude::*;
use spin_sdk::http::{
    Fields, IncomingRequest, IncomingResponse, Method, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};

use tenant_contract::headers::REQUEST_ID_HEADER;

use crate::respond;

/// The method's name as the core reads it.
pub fn method_name(m: &Method) -> String {
    match m {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(o) => o.clone(),
    }
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// Why the request body did not reach the backend whole.
enum BodyFailure {
    TooLarge,
    Client,
}

/// Sends `plan` to its backend and relays the answer, with the plan's response headers
/// (`RateLimit`) in place of any the backend set; a refusal or backend failure becomes the
/// JSON error response. Returns the status sent.
pub async fn forward(
    req: IncomingRequest,
    plan: Forward,
    limits: &Limits,
    out: ResponseOutparam,
) -> u16 {
    let rid = plan.request_id().clone();
    let Ok(headers) = Fields::from_list(plan.headers()) else {
        return respond::error(
            out,
            GatewayError::BadRequest(gateway_core::error::BadRequest::Malformed),
            &rid,
        );
    };
    let outgoing = OutgoingRequest::new(headers);
    let authority = format!("{}.spin.internal", plan.component());
    let set = outgoing.set_method(&method(plan.method())).is_ok()
        && outgoing.set_scheme(Some(&Scheme::Http)).is_ok()
        && outgoing.set_authority(Some(&authority)).is_ok()
        && outgoing
            .set_path_with_query(Some(plan.path_and_query()))
            .is_ok();
    if !set {
        return respond::error(
            out,
            GatewayError::BadRequest(gateway_core::error::BadRequest::Malformed),
            &rid,
        );
    }

    let mut sink = outgoing.take_body();
    let mut counter = limits.body_counter();
    let copy = async move {
        let mut body = req.into_body_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| BodyFailure::Client)?;
            counter
                .add(chunk.len())
                .map_err(|_| BodyFailure::TooLarge)?;
            sink.send(chunk).await.map_err(|_| BodyFailure::Client)?;
        }
        sink.close().await.map_err(|_| BodyFailure::Client)
    };
    let send = spin_sdk::http::send::<_, IncomingResponse>(outgoing);
    let (copied, answer) = futures::join!(copy, send);

    match (copied, answer) {
        (Err(BodyFailure::TooLarge), _) => respond::error(
            out,
            GatewayError::Limit(gateway_core::headers::LimitError::PayloadTooLarge),
            &rid,
        ),
        (Err(BodyFailure::Client), _) => respond::error(
            out,
            GatewayError::BadRequest(gateway_core::error::BadRequest::Malformed),
            &rid,
        ),
        (Ok(()), Err(e)) => {
            eprintln!("gateway: request {rid}: backend {}: {e}", plan.component());
            let failure = match e {
                spin_sdk::http::SendError::Http(
                    spin_sdk::http::ErrorCode::DestinationNotFound
                    | spin_sdk::http::ErrorCode::ConnectionRefused
                    | spin_sdk::http::ErrorCode::HttpRequestDenied,
                ) => BackendError::Unreachable,
                _ => BackendError::Unavailable,
            };
            respond::error(out, GatewayError::Backend(failure), &rid)
        }
        // An anonymous browser navigation the backend refuses (401, or 403 for a permission
        // signing in would bring): to the login page.
        (Ok(()), Ok(resp))
            if matches!(resp.status(), 401 | 403) && plan.login_redirect().is_some() =>
        {
            let location = plan.login_redirect().unwrap_or_default();
            let mut answer = gateway_core::decision::Response::redirect(location)
                .with_header(REQUEST_ID_HEADER, rid.as_str());
            answer.headers.extend(
                plan.response_headers()
                    .iter()
                    .map(|(n, v)| (n.clone(), v.as_bytes().to_vec())),
            );
            respond::send(out, answer)
        }
        (Ok(()), Ok(resp)) => relay(resp, out, &rid, plan.response_headers()).await,
    }
}

async fn relay(
    resp: IncomingResponse,
    out: ResponseOutparam,
    rid: &RequestId,
    ours: &[(String, String)],
) -> u16 {
    let status = resp.status();
    let mut headers: Vec<(String, Vec<u8>)> = resp
        .headers()
        .entries()
        .into_iter()
        .filter(|(k, _)| !tenant_contract::headers::is_hop_by_hop(k))
        .filter(|(k, _)| !ours.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)))
        .collect();
    headers.extend(ours.iter().map(|(n, v)| (n.clone(), v.as_bytes().to_vec())));
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(REQUEST_ID_HEADER))
    {
        headers.push((REQUEST_ID_HEADER.into(), rid.as_str().as_bytes().to_vec()));
    }
    let fields = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(fields);
    let _ = outgoing.set_status_code(resp.status());
    let mut sink = outgoing.take_body();
    out.set(outgoing);
    let mut body = resp.take_body_stream();
    while let Some(Ok(chunk)) = body.next().await {
        if sink.send(chunk).await.is_err() {
            return status;
        }
    }
    let _ = sink.close().await;
    status
}
