//! Criterion benches of the core stages, natively. Set-up (directories, warm caches, keys,
//! tokens) happens outside the measured closures.
//!
//! ```sh
//! cargo bench -p gateway-core --bench core -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gateway_core::cache::{TenantCache, TenantCacheConfig};
use gateway_core::context::{ContextClaims, ContextSigner};
use gateway_core::fakes::{sample_tenant, MemoryCounters, MemoryDirectory, MemoryKv};
use gateway_core::headers::sanitise;
use gateway_core::host::{normalise_host, HostConfig, RequestTarget};
use gateway_core::ids::{Hostname, RequestId};
use gateway_core::jwt::{IssuerConfig, JwtVerifier};
use gateway_core::kv::UnixMillis;
use gateway_core::prelude::*;
use gateway_core::resolve::{classify, resolve};
use gateway_core::tenant::Placement;
use gateway_core::tenant::TenantRecord;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

const PEM_A: &str = include_str!("../tests/rsa_a.pem");
const JWKS_A: &str = include_str!("../tests/jwks_a.json");
const NOW: UnixMillis = UnixMillis(1_700_000_000_000);
/// Hosts cycled through in the warm resolution benches (the hot set).
const HOT: usize = 64;

fn normalise(c: &mut Criterion) {
    let config = HostConfig::with_ports(&[3000]);
    let target = RequestTarget::parse("/api/tasks").unwrap();
    let mut g = c.benchmark_group("normalise");
    for (id, host) in [
        ("ascii", "Acme.App.Example:3000"),
        ("idna", "BÜCHER.app.example"),
    ] {
        g.bench_function(id, |b| {
            b.iter(|| normalise_host(&[black_box(host.as_bytes())], &target, &config).unwrap())
        });
    }
    g.finish();
}

fn slug(i: usize) -> String {
    format!("tenant-{i}")
}

fn resolve_warm(c: &mut Criterion) {
    let resolver = ResolverConfig::new("app.example".parse().unwrap());
    let mut g = c.benchmark_group("resolve");
    for n in [10usize, 100_000] {
        let directory = MemoryDirectory::default();
        for i in 0..n {
            directory.upsert(sample_tenant(&slug(i)));
        }
        let kv = MemoryKv::default();
        let cache = TenantCache::new(&directory, &kv, TenantCacheConfig::default());
        let hosts: Vec<Hostname> = (0..n)
            .map(|i| format!("{}.app.example", slug(i)).parse().unwrap())
            .collect();
        // Every tenant warm in the store (as in production), then the hot set last.
        for h in hosts.iter().chain(hosts.iter().take(HOT)) {
            let class = classify(h, &resolver);
            resolve(h, &class, None, &cache, NOW).unwrap();
        }
        let hot: Vec<&Hostname> = hosts.iter().take(HOT).collect();
        let mut i = 0;
        g.bench_with_input(BenchmarkId::new("subdomain_warm", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % hot.len();
                let class = classify(hot[i], &resolver);
                resolve(hot[i], &class, None, &cache, NOW).unwrap()
            })
        });
        // Naive baseline: scan a list of records for the slug on every request.
        let records: Vec<TenantRecord> = (0..n).map(|i| sample_tenant(&slug(i))).collect();
        let wanted: Vec<TenantSlug> = (0..n)
            .rev()
            .take(HOT)
            .map(|i| slug(i).parse().unwrap())
            .collect();
        let mut j = 0;
        g.bench_with_input(BenchmarkId::new("naive_scan", n), &n, |b, _| {
            b.iter(|| {
                j = (j + 1) % wanted.len();
                records
                    .iter()
                    .find(|r| r.slug == wanted[j])
                    .cloned()
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn claims() -> ContextClaims {
    let t = sample_tenant("acme");
    ContextClaims {
        tid: t.id,
        slug: t.slug,
        placement: Placement::Shared,
        uid: Some(uuid::Uuid::nil()),
        roles: vec!["member".parse().unwrap()],
        perms: vec![
            "tasks.read".parse().unwrap(),
            "tasks.write".parse().unwrap(),
        ],
        rid: "01HZX3J5Q9C8W7V6T5S4R3Q2P1".parse().unwrap(),
        exp: NOW.as_secs() + 30,
        ro: false,
    }
}

fn sign(c: &mut Criterion) {
    let key = [7u8; 32];
    let signer = ContextSigner::new("k1", &key).unwrap();
    let claims = claims();
    let mut g = c.benchmark_group("sign");
    g.bench_function("context", |b| b.iter(|| signer.sign(black_box(&claims))));
    // Baseline: a signer built (HMAC key schedule included) for every request.
    g.bench_function("context_new_signer", |b| {
        b.iter(|| {
            ContextSigner::new("k1", &key)
                .unwrap()
                .sign(black_box(&claims))
        })
    });
    g.finish();
}

fn token() -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("key-a".into());
    let claims = serde_json::json!({
        "iss": "https://idp.example", "aud": "tenantgate", "sub": "user_1",
        "exp": NOW.as_secs() + 3600, "org_id": sample_tenant("acme").id.to_string(),
        "roles": ["member"], "perms": ["tasks.read"],
    });
    encode(
        &h,
        &claims,
        &EncodingKey::from_rsa_pem(PEM_A.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn verifier() -> JwtVerifier {
    JwtVerifier::new([
        IssuerConfig::from_jwks("https://idp.example", &["tenantgate"], JWKS_A).unwrap(),
    ])
}

fn jwt(c: &mut Criterion) {
    let v = verifier();
    let token = token();
    let kv = MemoryKv::default();
    v.verify(&token, &kv, NOW).unwrap();
    let mut g = c.benchmark_group("jwt");
    g.bench_function("rs256_cold", |b| {
        b.iter(|| v.verify_uncached(black_box(&token), NOW).unwrap())
    });
    g.bench_function("rs256_cached", |b| {
        b.iter(|| v.verify(black_box(&token), &kv, NOW).unwrap())
    });
    g.finish();
}

fn headers(c: &mut Criterion) {
    let mut hs: Vec<(String, Vec<u8>)> = (0..16)
        .map(|i| (format!("X-Custom-{i}"), b"some value here".to_vec()))
        .collect();
    hs.push(("Connection".into(), b"keep-alive, x-custom-3".to_vec()));
    hs.push(("X-Tenant-Context".into(), b"forged".to_vec()));
    hs.push(("spin-full-url".into(), b"http://x/".to_vec()));
    c.bench_function("headers/sanitise_19", |b| {
        b.iter(|| sanitise(black_box(&hs)))
    });
}

fn pipeline(c: &mut Criterion) {
    let directory = MemoryDirectory::default();
    let mut acme = sample_tenant("acme");
    acme.sso = gateway_core::sso::SsoMode::Sso;
    directory.upsert(acme.clone());
    let sid = uuid::Uuid::from_bytes([5; 16]);
    directory.set_session(
        sid,
        Some(gateway_core::sso::session::SessionRow {
            tenant: acme.id,
            user_id: uuid::Uuid::from_bytes([6; 16]),
            role: "member".into(),
            permissions: vec!["tasks.read".into()],
            expires_in: 3600,
        }),
    );
    let session_key =
        gateway_core::sso::session::SessionKey::new(b"bench-session-key-32-bytes-long!").unwrap();
    let cookie = format!(
        "tg_session={}",
        session_key.issue(sid, &acme.id, NOW.as_secs() + 1800)
    );
    let ports = Ports {
        directory,
        cache: MemoryKv::default(),
        counters: MemoryCounters::default(),
        keys: verifier(),
    };
    let config = GatewayConfig {
        sessions: gateway_core::sso::session::SessionConfig {
            key: Some(session_key),
            ..Default::default()
        },
        host: HostConfig::with_ports(&[3000]),
        resolver: ResolverConfig::new("app.example".parse().unwrap()),
        tenant_cache: TenantCacheConfig::default(),
        routes: RouteTable::parse("/api/tasks=tasks,/api/projects=tasks").unwrap(),
        limits: Limits::default(),
        context: ContextSigner::new("k1", &[7; 32]).unwrap(),
        anonymous_permissions: Vec::new(),
        rate_limits: RateLimitConfig::default(),
    };
    let rid: RequestId = "req-1".parse().unwrap();
    let mut headers = vec![
        ("host".to_owned(), b"acme.app.example:3000".to_vec()),
        ("accept".to_owned(), b"application/json".to_vec()),
        ("user-agent".to_owned(), b"bench/1.0".to_vec()),
    ];
    let anon = RequestParts {
        method: "GET".into(),
        target: "http://acme.app.example:3000/api/tasks/42".into(),
        headers: headers.clone(),
    };
    headers.push((
        "authorization".to_owned(),
        format!("Bearer {}", token()).into_bytes(),
    ));
    let authed = RequestParts {
        headers,
        ..anon.clone()
    };
    let mut with_session = anon.clone();
    with_session
        .headers
        .push(("cookie".to_owned(), cookie.into_bytes()));
    assert!(matches!(
        handle(&with_session, &config, &ports, NOW, &rid),
        Decision::Forward(_)
    ));
    assert!(matches!(
        handle(&authed, &config, &ports, NOW, &rid),
        Decision::Forward(_)
    ));
    let mut g = c.benchmark_group("pipeline");
    g.bench_function("anonymous_warm", |b| {
        b.iter(|| handle(black_box(&anon), &config, &ports, NOW, &rid))
    });
    g.bench_function("bearer_cached", |b| {
        b.iter(|| handle(black_box(&authed), &config, &ports, NOW, &rid))
    });
    // A session cookie: MAC, expiry, tenant, and the cached session state (one cache read).
    g.bench_function("session_warm", |b| {
        b.iter(|| handle(black_box(&with_session), &config, &ports, NOW, &rid))
    });
    g.finish();
}

/// The rate-limit stage: one GCRA step (the pure core), and a two-bucket plan spent over
/// compare-and-swap counters (what the component does per request with the key-value store,
/// minus the host calls), and the whole pipeline with and without limits.
fn ratelimit(c: &mut Criterion) {
    use gateway_core::gcra::Gcra;
    use gateway_core::limits::{LimitPolicy, Rate};
    use gateway_core::ratelimit::{apply_with_counters, Bucket, LimitPlan};
    let mut g = c.benchmark_group("ratelimit");
    let gcra = Gcra::from(Rate::new(6000, 60, 1000));
    let mut now = 1_700_000_000_000_000u64;
    let mut tat = None;
    g.bench_function("gcra_step", |b| {
        b.iter(|| {
            now += 1_000;
            if let gateway_core::gcra::Step::Admitted { tat: t, .. } =
                gcra.step(black_box(tat), now)
            {
                tat = Some(t);
            }
        })
    });
    let huge = Rate::new(1_000_000_000, 1, 1_000_000);
    let plan = LimitPlan {
        buckets: vec![
            Bucket {
                kind: "anonymous",
                key: "tg:rl:t:anonymous".into(),
                owner: "tg:rl:t:anonymous".into(),
                rate: huge,
            },
            Bucket {
                kind: "client",
                key: "tg:rl:t:client:c:1".into(),
                owner: "10.0.0.1".into(),
                rate: huge,
            },
        ],
        quota: None,
    };
    let counters = MemoryCounters::default();
    let mut now_us = 1_700_000_000_000_000u64;
    g.bench_function("two_buckets_over_cas", |b| {
        b.iter(|| {
            now_us += 1;
            apply_with_counters(&counters, black_box(&plan), now_us).unwrap()
        })
    });
    let directory = MemoryDirectory::default();
    let mut limited = sample_tenant("acme");
    limited.limits = LimitPolicy {
        anonymous: Some(huge),
        client: Some(huge),
        ..LimitPolicy::default()
    };
    directory.upsert(limited);
    let ports = Ports {
        directory,
        cache: MemoryKv::default(),
        counters: MemoryCounters::default(),
        keys: verifier(),
    };
    let mut config = GatewayConfig {
        sessions: Default::default(),
        host: HostConfig::with_ports(&[3000]),
        resolver: ResolverConfig::new("app.example".parse().unwrap()),
        tenant_cache: TenantCacheConfig::default(),
        routes: RouteTable::parse("/api/tasks=tasks").unwrap(),
        limits: Limits::default(),
        context: ContextSigner::new("k1", &[7; 32]).unwrap(),
        anonymous_permissions: vec!["tasks.read".parse().unwrap()],
        rate_limits: RateLimitConfig::default(),
    };
    let rid: RequestId = "req-1".parse().unwrap();
    let req = RequestParts {
        method: "GET".into(),
        target: "/api/tasks".into(),
        headers: vec![
            ("host".to_owned(), b"acme.app.example".to_vec()),
            ("spin-client-addr".to_owned(), b"10.0.0.1:5000".to_vec()),
        ],
    };
    let mut clock = 1_700_000_000_000u64;
    g.bench_function("pipeline_limits_on", |b| {
        b.iter(|| {
            clock += 1;
            handle(black_box(&req), &config, &ports, UnixMillis(clock), &rid)
        })
    });
    config.rate_limits.enabled = false;
    g.bench_function("pipeline_limits_off", |b| {
        b.iter(|| {
            clock += 1;
            handle(black_box(&req), &config, &ports, UnixMillis(clock), &rid)
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    normalise,
    resolve_warm,
    sign,
    jwt,
    headers,
    pipeline,
    ratelimit
);
criterion_main!(benches);
