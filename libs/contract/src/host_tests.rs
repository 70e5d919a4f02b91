use super::*;
use proptest::prelude::*;

fn cfg() -> HostConfig {
    HostConfig::with_ports(&[3000])
}

fn host(values: &[&str], target: &str) -> Result<String, HostError> {
    let values: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
    let target = RequestTarget::parse(target)?;
    normalise_host(&values, &target, &cfg()).map(|h| h.as_str().to_owned())
}

#[test]
fn accepted_hosts_normalise_to_one_canonical_name() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&["acme.app.example"], "/", "acme.app.example"),
        (&["ACME.App.Example"], "/", "acme.app.example"),
        (&["acme.app.example."], "/", "acme.app.example"),
        (&["acme.app.example:443"], "/", "acme.app.example"),
        (&["acme.app.example:80"], "/", "acme.app.example"),
        (&["acme.app.localhost:3000"], "/", "acme.app.localhost"),
        (&["acme.app.example.:3000"], "/", "acme.app.example"),
        (&["BÜCHER.app.example"], "/", "xn--bcher-kva.app.example"),
        (
            &["xn--bcher-kva.app.example"],
            "/",
            "xn--bcher-kva.app.example",
        ),
        (&["ａｃｍｅ.app.example"], "/", "acme.app.example"),
        (
            &["acme.app.example"],
            "http://ACME.app.example:3000/x",
            "acme.app.example",
        ),
        (&[], "https://acme.app.example/x", "acme.app.example"),
        (&["1a.app.example"], "/", "1a.app.example"),
        (&["localhost"], "/", "localhost"),
    ];
    for (values, target, want) in cases {
        assert_eq!(
            host(values, target).as_deref(),
            Ok(*want),
            "{values:?} {target}"
        );
    }
}

#[test]
fn refused_hosts_give_the_exact_error() {
    use HostError::*;
    let long_label = format!("{}.app.example", "a".repeat(64));
    let long_name = format!("{}.example", vec!["a".repeat(60); 5].join("."));
    let cases: &[(&[&str], &str, HostError)] = &[
        (&[], "/", Missing),
        (&[""], "/", Empty),
        (&[":443"], "/", Empty),
        (&["."], "/", Empty),
        (&["acme.app.example", "acme.app.example"], "/", Duplicate),
        (&["acme.app.example", "evil.example"], "/", Duplicate),
        (&["user@acme.app.example"], "/", Userinfo),
        (&["user:pw@acme.app.example"], "/", Userinfo),
        (
            &["acme.app.example"],
            "http://user@acme.app.example/",
            Userinfo,
        ),
        (&["127.0.0.1"], "/", IpLiteral),
        (&["127.1"], "/", IpLiteral),
        (&["0x7f.0.0.1"], "/", IpLiteral),
        (&["0177.0.0.1"], "/", IpLiteral),
        (&["2130706433"], "/", IpLiteral),
        (&["１２７.０.０.１"], "/", IpLiteral),
        (&["a.b.0x"], "/", IpLiteral),
        (&["[::1]"], "/", IpLiteral),
        (&["[::1]:443"], "/", IpLiteral),
        (&["::1"], "/", IpLiteral),
        (&["acme.app.example:8080"], "/", Port),
        (&["acme.app.example:0443"], "/", MalformedPort),
        (&["acme.app.example:"], "/", MalformedPort),
        (&["acme.app.example:0"], "/", MalformedPort),
        (&["acme.app.example:+80"], "/", MalformedPort),
        (&["acme.app.example:99999"], "/", MalformedPort),
        (&["acme.app.example.."], "/", EmptyLabel),
        (&["acme..app.example"], "/", EmptyLabel),
        (&[".acme.app.example"], "/", EmptyLabel),
        (&["acme app.example"], "/", InvalidCharacter),
        (&["acme.app.example\r\nx: y"], "/", InvalidCharacter),
        (&["acme\t.app.example"], "/", InvalidCharacter),
        (&["acme\0.app.example"], "/", InvalidCharacter),
        (&["acme_x.app.example"], "/", InvalidCharacter),
        (&["acme%2e.app.example"], "/", InvalidCharacter),
        (&["a,b.app.example"], "/", InvalidCharacter),
        (&["-acme.app.example"], "/", InvalidCharacter),
        (&[&long_label], "/", LabelTooLong),
        (&[&long_name], "/", NameTooLong),
        (
            &["acme.app.example"],
            "http://evil.app.example/",
            TargetMismatch,
        ),
        (&["acme.app.example"], "http://acme.app.example:8080/", Port),
        (&["acme.app.example"], "*", BadTarget),
        (&["acme.app.example"], "acme.app.example:443", BadTarget),
        (&["acme.app.example"], "ftp://acme.app.example/", BadTarget),
        (&["acme.app.example"], "/a b", BadTarget),
        (&["acme.app.example"], "/a#frag", BadTarget),
    ];
    for (values, target, want) in cases {
        assert_eq!(host(values, target), Err(*want), "{values:?} {target}");
    }
}

#[test]
fn invalid_utf8_is_an_invalid_character() {
    let target = RequestTarget::parse("/").unwrap();
    let got = normalise_host(&[b"acme\xff.app.example"], &target, &cfg());
    assert_eq!(got, Err(HostError::InvalidCharacter));
}

#[test]
fn only_configured_ports_are_accepted() {
    let target = RequestTarget::parse("/").unwrap();
    let strict = HostConfig::default();
    assert_eq!(
        normalise_host(&[b"acme.app.localhost:3000"], &target, &strict),
        Err(HostError::Port)
    );
    assert!(normalise_host(&[b"acme.app.localhost:443"], &target, &strict).is_ok());
}

#[test]
fn targets_keep_their_path_and_query() {
    let t = RequestTarget::parse("http://h.example?q=1").unwrap();
    assert_eq!(t.path_and_query(), "/?q=1");
    assert_eq!(t.path(), "/");
    let t = RequestTarget::parse("/api/tasks?x=/y").unwrap();
    assert_eq!(t.path(), "/api/tasks");
    assert_eq!(
        RequestTarget::parse("HTTPS://h.example")
            .unwrap()
            .path_and_query(),
        "/"
    );
}

proptest! {
    #[test]
    fn normalisation_never_panics_and_is_idempotent(raw in proptest::collection::vec(any::<u8>(), 0..80)) {
        let config = cfg();
        if let Ok(h) = normalise_authority(&raw, &config) {
            let again = normalise_authority(h.as_str().as_bytes(), &config);
            prop_assert_eq!(again.as_ref(), Ok(&h));
        }
    }

    #[test]
    fn host_like_strings_are_idempotent(raw in "[a-zA-Z0-9.:\\-ÜüßÄ]{0,40}") {
        let config = cfg();
        if let Ok(h) = normalise_authority(raw.as_bytes(), &config) {
            prop_assert_eq!(normalise_authority(h.as_str().as_bytes(), &config), Ok(h));
        }
    }

    #[test]
    fn target_parsing_never_panics(raw in "\\PC{0,60}") {
        let _ = RequestTarget::parse(&raw);
    }
}

#[test]
fn bare_names_normalise_like_hosts_without_a_port() {
    assert_eq!(
        normalise_name("Portal.Acme.COM.").unwrap().as_str(),
        "portal.acme.com"
    );
    assert_eq!(
        normalise_name("bücher.example").unwrap().as_str(),
        "xn--bcher-kva.example"
    );
    assert_eq!(normalise_name("acme.com:443"), Err(HostError::Port));
    assert_eq!(normalise_name("10.0.0.1"), Err(HostError::IpLiteral));
    assert_eq!(normalise_name("[::1]"), Err(HostError::IpLiteral));
    assert_eq!(normalise_name("u@acme.com"), Err(HostError::Userinfo));
}
