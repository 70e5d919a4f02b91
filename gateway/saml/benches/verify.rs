//! What a SAML login costs the gateway: building the AuthnRequest, and verifying the IdP's response (one
//! signed assertion; and a signed Response around a signed assertion, two RSA-2048 verifications).
//!
//! `cargo bench -p tenantgate-saml --bench verify`

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
