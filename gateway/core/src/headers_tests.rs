use super::*;
use proptest::prelude::*;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn names(headers: &[(String, Vec<u8>)]) -> Vec<&str> {
    headers.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn forged_and_hop_by_hop_headers_are_stripped_in_every_case_and_duplicate() {
    let input = h(&[
        ("Accept", "text/html"),
        ("x-tenant-context", "v1.k.forged.sig"),
        ("X-Tenant-Context", "v1.k.forged2.sig"),
        ("X-TENANT-HOST", "victim.app.example"),
        ("x-tenant-anything", "1"),
        ("spin-full-url", "http://victim.app.example/"),
        ("Spin-Path-Info", "/admin"),
        ("Connection", "keep-alive, X-Secret-Hop"),
        ("connection", "Another-Hop"),
        ("X-Secret-Hop", "1"),
        ("another-hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "websocket"),
        ("Proxy-Authorization", "Basic x"),
        ("Proxy-Connection", "keep-alive"),
        ("Trailer", "x"),
        ("Proxy-Authenticate", "x"),
        ("Host", "acme.app.example"),
        ("Authorization", "Bearer abc"),
        ("X-Request-Id", "client-chosen"),
        ("bad name", "x"),
        ("X-Injected", "a\r\nx-tenant-context: forged"),
        ("Cookie", "a=b"),
        ("x-tenantish", "kept"),
        ("spin", "kept"),
        ("Content-Type", "application/json"),
    ]);
    let out = sanitise(&input);
    assert_eq!(
        names(&out),
        ["Accept", "Cookie", "x-tenantish", "spin", "Content-Type"]
    );
}

#[test]
fn underscore_spellings_of_internal_and_hop_by_hop_headers_are_stripped() {
    let input = h(&[
        ("x_tenant_context", "v1.k.forged.sig"),
        ("X_Tenant_Host", "victim.app.example"),
        ("x-tenant_context", "v1.k.forged.sig"),
        ("spin_full_url", "http://victim.app.example/"),
        ("SPIN_PATH_INFO", "/admin"),
        ("x_request_id", "client-chosen"),
        ("proxy_authorization", "Basic x"),
        ("transfer_encoding", "chunked"),
        ("Connection", "x_secret_hop"),
        ("x-secret-hop", "1"),
        // Controls: names that only look alike are the client's own and are kept.
        ("x_tenantish", "kept"),
        ("spin", "kept"),
        ("x_forwarded_for", "kept"),
        ("accept", "kept"),
    ]);
    assert_eq!(
        names(&sanitise(&input)),
        ["x_tenantish", "spin", "x_forwarded_for", "accept"]
    );
}

#[test]
fn the_hosts_own_spin_headers_do_not_count_against_the_budget() {
    let limits = Limits {
        max_header_bytes: 100,
        ..Limits::default()
    };
    let long = "x".repeat(1_000);
    // The host's block, appended after the client's: the last of each listed name.
    let hosts = h(&[
        ("a", &"x".repeat(95)),
        ("spin-full-url", &long),
        ("spin-path-info", &long),
        ("spin-client-addr", "127.0.0.1:5555"),
    ]);
    assert_eq!(limits.check_headers(&hosts), Ok(()));
    // Attack: the client's own copies come first and still count (the host's last ones
    // do not), so a client cannot hide bytes behind the host's names.
    let forged = h(&[
        ("a", "x"),
        ("spin-full-url", &long),
        ("spin-full-url", "http://h/"),
    ]);
    assert_eq!(
        limits.check_headers(&forged),
        Err(LimitError::HeadersTooLarge)
    );
    // Attack: a spin-* name the host does not add is the client's, and counts.
    let unlisted = h(&[("spin-path-match-id", &long)]);
    assert_eq!(
        limits.check_headers(&unlisted),
        Err(LimitError::HeadersTooLarge)
    );
    // Control: the client's own bytes over the cap are still refused.
    let over = h(&[("a", &"x".repeat(96)), ("spin-full-url", &long)]);
    assert_eq!(
        limits.check_headers(&over),
        Err(LimitError::HeadersTooLarge)
    );
}

#[test]
fn header_size_is_capped() {
    let limits = Limits {
        max_header_bytes: 100,
        ..Limits::default()
    };
    let fits = h(&[("a", &"x".repeat(95))]);
    assert_eq!(limits.check_headers(&fits), Ok(()));
    let over = h(&[("a", &"x".repeat(96))]);
    assert_eq!(
        limits.check_headers(&over),
        Err(LimitError::HeadersTooLarge)
    );
}

#[test]
fn declared_and_streamed_bodies_are_capped() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let cl = |vs: &[&str]| {
        let pairs: Vec<(&str, &str)> = vs.iter().map(|v| ("Content-Length", *v)).collect();
        limits.check_declared_body(&h(&pairs))
    };
    assert_eq!(cl(&[]), Ok(None));
    assert_eq!(cl(&["10"]), Ok(Some(10)));
    assert_eq!(cl(&["10", "10"]), Ok(Some(10)));
    assert_eq!(cl(&["11"]), Err(LimitError::PayloadTooLarge));
    assert_eq!(
        cl(&["99999999999999999999"]),
        Err(LimitError::BadContentLength)
    );
    for bad in ["", "-1", "+5", "5, 5", " 5", "0x5", "5 "] {
        assert_eq!(cl(&[bad]), Err(LimitError::BadContentLength), "{bad:?}");
    }
    assert_eq!(cl(&["5", "6"]), Err(LimitError::BadContentLength));
    let mut counter = limits.body_counter();
    assert_eq!(counter.add(6), Ok(6));
    assert_eq!(counter.add(4), Ok(10));
    assert_eq!(counter.add(1), Err(LimitError::PayloadTooLarge));
}

proptest! {
    #[test]
    fn sanitising_never_panics_and_never_lets_ours_through(
        raw in proptest::collection::vec(("\\PC{0,20}", proptest::collection::vec(any::<u8>(), 0..30)), 0..20)
    ) {
        let out = sanitise(&raw);
        for (name, value) in &out {
            let lower = name.to_ascii_lowercase();
            let folded = lower.replace('_', "-");
            prop_assert!(!folded.starts_with("x-tenant-") && !folded.starts_with("spin-"));
            prop_assert!(!HOP_BY_HOP.contains(&lower.as_str()));
            prop_assert!(!value.contains(&b'\n') && !value.contains(&b'\r'));
        }
        prop_assert!(out.len() <= raw.len());
    }
}
