use super::*;

#[test]
fn return_to_is_a_path_on_this_host() {
    assert_eq!(return_to("").unwrap(), "/");
    assert_eq!(
        return_to("return_to=%2Fapi%2Ftasks%3Fa%3D1").unwrap(),
        "/api/tasks?a=1"
    );
    for bad in [
        "return_to=%2F%2Fevil.test",
        "return_to=https%3A%2F%2Fevil.test",
        "return_to=%2F%5Cevil.test",
        "return_to=javascript%3Aalert(1)",
        "return_to=evil.test",
        "return_to=%2Fa%0D%0ASet-Cookie%3A%20x",
        "return_to=%2F%E2%80%AEx",
    ] {
        assert_eq!(return_to(bad), Err(SsoError::ReturnTo), "{bad}");
    }
    assert_eq!(
        return_to("return_to=%2Fa&return_to=%2Fb"),
        Err(SsoError::Malformed)
    );
}

#[test]
fn a_nul_in_a_login_parameter_is_refused_by_name() {
    assert_eq!(
        return_to("return_to=%2Fa%00b"),
        Err(SsoError::NulInText("return_to"))
    );
    assert_eq!(
        invitation("invitation=ab%00cd"),
        Err(SsoError::NulInText("invitation"))
    );
    // A switch ticket keeps its one answer for every malformed value (never token-shaped).
    assert_eq!(
        switch::ticket("ticket=0123456789abcdef%00"),
        Err(SsoError::SwitchInvalid)
    );
    // Controls: the same without the NUL.
    assert_eq!(return_to("return_to=%2Fab").unwrap(), "/ab");
    let e = crate::error::GatewayError::Sso(SsoError::NulInText("return_to")).response();
    assert_eq!((e.status, e.code.as_str()), (400, "bad_request"));
    assert!(e.message.contains("return_to"), "{}", e.message);
}

#[test]
fn routes_under_auth_are_the_gateways() {
    assert_eq!(AuthRoute::of("GET", "/auth/login"), Some(AuthRoute::Login));
    assert_eq!(
        AuthRoute::of("POST", "/auth/logout"),
        Some(AuthRoute::Logout)
    );
    assert_eq!(
        AuthRoute::of("GET", "/auth/logout"),
        Some(AuthRoute::Unknown)
    );
    assert_eq!(
        AuthRoute::of("GET", "/auth/anything"),
        Some(AuthRoute::Unknown)
    );
    assert_eq!(AuthRoute::of("GET", "/authx"), None);
    assert_eq!(AuthRoute::of("GET", "/api/tasks"), None);
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn navigation_is_told_apart_from_api_calls() {
    assert!(is_navigation("GET", &h(&[("sec-fetch-mode", "navigate")])));
    assert!(!is_navigation(
        "GET",
        &h(&[("sec-fetch-mode", "cors"), ("accept", "text/html")])
    ));
    assert!(is_navigation(
        "GET",
        &h(&[("accept", "text/html,application/xhtml+xml")])
    ));
    assert!(!is_navigation("GET", &h(&[("accept", "application/json")])));
    assert!(!is_navigation(
        "POST",
        &h(&[("sec-fetch-mode", "navigate")])
    ));
}

#[test]
fn cookies_are_read_by_exact_name() {
    let headers = h(&[("cookie", "a=1; tg_session=xyz; tg_session_evil=2")]);
    assert_eq!(cookie(&headers, "tg_session"), Some("xyz"));
    assert_eq!(cookie(&headers, "tg_sess"), None);
}

#[test]
fn csrf_needs_this_origin_for_state_changes() {
    let origin = "http://acme.localhost:3000";
    assert!(csrf_ok("GET", &[], origin, "t"));
    assert!(csrf_ok("POST", &h(&[("origin", origin)]), origin, "t"));
    assert!(!csrf_ok(
        "POST",
        &h(&[("origin", "http://evil.test")]),
        origin,
        "t"
    ));
    assert!(!csrf_ok("POST", &h(&[("origin", "null")]), origin, "t"));
    assert!(!csrf_ok("DELETE", &[], origin, "t"));
    assert!(csrf_ok(
        "POST",
        &h(&[("sec-fetch-site", "same-origin")]),
        origin,
        "t"
    ));
    assert!(!csrf_ok(
        "POST",
        &h(&[("sec-fetch-site", "cross-site")]),
        origin,
        "t"
    ));
    assert!(csrf_ok(
        "PUT",
        &h(&[("x-csrf-token", "t0k")]),
        origin,
        "t0k"
    ));
    assert!(!csrf_ok(
        "PUT",
        &h(&[("x-csrf-token", "t0x")]),
        origin,
        "t0k"
    ));
}

#[test]
fn login_location_encodes_the_path() {
    assert_eq!(
        login_location("/api/tasks?x=1&y=2"),
        "/auth/login?return_to=%2Fapi%2Ftasks%3Fx%3D1%26y%3D2"
    );
}
