//! What a SAML login costs the gateway: building the AuthnRequest, and verifying the IdP's response (one
//! signed assertion; and a signed Response around a signed assertion, two RSA-2048 verifications). And what
//! the worst unauthenticated documents we can construct cost the ACS before they are refused (`hostile/*`,
//! most filling the 512 KiB `SAMLResponse` cap): one element with as many attributes as fit, elements nested
//! as deep as fits, one element declaring as many namespaces as fit, and nested elements each declaring a
//! namespace (every one stays in scope below it; at three depths, as the cost before the pre-scan was cubic).
//!
//! `cargo bench -p tenantgate-saml --bench verify`

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use tenantgate_saml::{
    authn_request, pem_or_der_certificates, verify_response, Expectation, IdentityProvider,
    ServiceProvider,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

fn bench(c: &mut Criterion) {
    let sp = ServiceProvider {
        entity_id: "https://acme.tenantgate.test/saml/metadata".into(),
        acs_url: "https://acme.tenantgate.test/saml/acs".into(),
    };
    let idp = IdentityProvider {
        entity_id: "https://idp.tenantgate.test/saml".into(),
        sso_url: "https://idp.tenantgate.test/sso".into(),
        certificates_der: pem_or_der_certificates(fixture("idp.crt").as_bytes()).unwrap(),
        allow_idp_initiated: false,
    };
    // The fixtures' clock (tests/common/mod.rs), one second after minting.
    let expect = Expectation {
        in_response_to: Some("_0123456789abcdef0123456789abcdef"),
        now_unix_ms: 1_796_101_201_000,
        skew_ms: 60_000,
    };
    let assertion_signed = fixture("valid.b64");
    let both_signed = fixture("valid_both_signed.b64");
    assert!(verify_response(&assertion_signed, &sp, &idp, &expect).is_ok());
    assert!(verify_response(&both_signed, &sp, &idp, &expect).is_ok());

    let mut group = c.benchmark_group("saml");
    group.bench_function("authn_request", |b| {
        b.iter(|| {
            authn_request(
                &sp,
                &idp,
                "_0123456789abcdef0123456789abcdef",
                1_796_101_200_000,
                Some("/"),
            )
        })
    });
    group.bench_function("verify_response/assertion_signed", |b| {
        b.iter(|| verify_response(&assertion_signed, &sp, &idp, &expect))
    });
    group.bench_function("verify_response/both_signed", |b| {
        b.iter(|| verify_response(&both_signed, &sp, &idp, &expect))
    });
    group.finish();

    let mut hostile = c.benchmark_group("hostile");
    hostile.sample_size(10);
    for (name, xml) in hostile_documents() {
        let form = base64::engine::general_purpose::STANDARD.encode(&xml);
        assert!(form.len() <= 512 * 1024, "{name}: {}", form.len());
        assert!(verify_response(&form, &sp, &idp, &expect).is_err());
        hostile.bench_function(name, |b| {
            b.iter(|| verify_response(&form, &sp, &idp, &expect))
        });
    }
    hostile.finish();
}

/// The largest XML whose base64 fits the ACS cap.
const XML_CAP: usize = 512 * 1024 / 4 * 3 - 64;

const RESPONSE_OPEN: &str =
    r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Version="2.0" ID="_r""#;

/// Repeats `unit(i)` while the document (with `close`) stays under [`XML_CAP`].
fn fill(open: &str, unit: impl Fn(usize) -> String, close: impl Fn(usize) -> String) -> String {
    let mut xml = open.to_owned();
    let mut n = 0;
    loop {
        let next = unit(n);
        if xml.len() + next.len() + close(n + 1).len() > XML_CAP {
            break;
        }
        xml.push_str(&next);
        n += 1;
    }
    xml + &close(n)
}

/// `levels` nested elements, each declaring a prefix of its own (all stay in scope below it): roxmltree
/// copies every in-scope namespace into each element and checks each against the element's own, cubic in
/// the depth (a document at the cap, ~12,000 levels, would not finish; three sizes show the growth).
fn nested_namespaces(levels: usize) -> String {
    let mut xml = format!("{RESPONSE_OPEN}>");
    for i in 0..levels {
        xml.push_str(&format!("<p{i}:a xmlns:p{i}=\"u\">"));
    }
    for i in (0..levels).rev() {
        xml.push_str(&format!("</p{i}:a>"));
    }
    xml + "</samlp:Response>"
}

fn hostile_documents() -> Vec<(&'static str, String)> {
    vec![
        (
            "attributes_in_one_element",
            fill(
                RESPONSE_OPEN,
                |i| format!(" a{i}=\"\""),
                |_| "/>".to_owned(),
            ),
        ),
        (
            "deep_nesting",
            fill(
                &format!("{RESPONSE_OPEN}>"),
                |_| "<a>".to_owned(),
                |n| "</a>".repeat(n) + "</samlp:Response>",
            ),
        ),
        ("nested_namespace_declarations/500", nested_namespaces(500)),
        (
            "nested_namespace_declarations/1000",
            nested_namespaces(1000),
        ),
        (
            "nested_namespace_declarations/2000",
            nested_namespaces(2000),
        ),
        (
            "namespaces_in_one_element",
            fill(
                RESPONSE_OPEN,
                |i| format!(" xmlns:p{i}=\"u{i}\""),
                |_| "/>".to_owned(),
            ),
        ),
    ]
}

criterion_group!(benches, bench);
criterion_main!(benches);
