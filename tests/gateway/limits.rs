//! Rate limits, quotas and usage metering through the real gateway, set with the real CLI:
//! 429s with their headers while other tenants and other clients keep answering; one bucket
//! per tenant whatever its host; the client address Spin gives, not one a client claims;
//! exact admission (±1 %) on one instance with the key-value store and on two instances
//! sharing a real Redis; the store going away (closed, and the local fallback) and coming
//! back; a change in effect within 5 s under load; the monthly quota; metered usage.

use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tenantgate_tests::fixtures::host_binary;
use tenantgate_tests::host::TestHost;
use tenantgate_tests::redis::RedisServer;

use crate::app::*;
use crate::tokens::{issuers, token};

/// `tenantgate <args>` against the app's control plane; panics unless it succeeds.
pub(crate) fn tg(app: &App, args: &[&str]) -> String {
    let out = tg_out(app, args);
    assert!(out.0, "tenantgate {args:?} failed:\n{}\n{}", out.1, out.2);
    out.1
}

fn tg_out(app: &App, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(host_binary())
        .args(args)
        .env("DATABASE_URL", app.pg.url("postgres"))
        .env("TENANTGATE_LOG", "warn")
        .output()
        .expect("running tenantgate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `sql` as the application role (no tenant context): its output, or psql's error.
fn as_app(app: &App, sql: &str) -> Result<String, String> {
    let out = Command::new(tenantgate_tests::postgres::pg_bin().join("psql"))
        .arg(app.pg.url_as("tenantgate_app", "postgres"))
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql])
        .output()
        .expect("psql");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A client whose connections come from `ip` (any 127.0.0.0/8 address).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn call(
    c: &reqwest::Client,
    host: &TestHost,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = c.get(host.url(path)).header("host", authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_429_with_headers_per_client_and_tenant_and_usage_is_metered() {
    let app = App::start_with(&[("SPIN_VARIABLE_USAGE_FLUSH_SECS", "1")]).await;
    let shown = tg(
        &app,
        &[
            "tenant",
            "limits",
            "acme",
            "--set",
            "client=60/1m:10",
            "--set",
            "anonymous=6000/1m:1000",
        ],
    );
    assert!(
        shown.contains("client") && shown.contains("60/60s, burst 10"),
        "{shown}"
    );
    let h = &app.host;
    let (a, b, c) = (
        client_from("127.0.0.2"),
        client_from("127.0.0.3"),
        client_from("127.0.0.4"),
    );

    let mut statuses = Vec::new();
    for i in 0..30 {
        let r = call(&a, h, "acme.localhost:3000", "/api/tasks", &[]).await;
        if i < 10 {
            assert_eq!(r.status, 200, "{}", r.body);
            let rl = r
                .header("ratelimit")
                .expect("admitted answers carry RateLimit");
            assert!(rl.starts_with("\"client\";r="), "{rl}");
            assert_eq!(titles(&r.body).len(), 2);
        } else {
            assert_eq!(r.status, 429, "{}", r.body);
            assert_eq!(code(&r.body), "rate_limited");
            let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=6).contains(&retry), "{retry}");
            assert_eq!(
                r.header("ratelimit"),
                Some(format!("\"client\";r=0;t={retry}").as_str())
            );
            let policy = r.header("ratelimit-policy").unwrap();
            assert!(policy.contains("\"client\";q=60;w=60"), "{policy}");
            assert!(policy.contains("\"anonymous\";q=6000;w=60"), "{policy}");
        }
        statuses.push(r.status);
    }
    // Another address has its own budget; the other tenant has its own (and no limits).
    assert_eq!(
        call(&b, h, "acme.localhost:3000", "/api/tasks", &[])
            .await
            .status,
        200
    );
    let g = call(&a, h, "globex.localhost:3000", "/api/tasks", &[]).await;
    assert_eq!((g.status, g.header("ratelimit")), (200, None));
    // The same tenant by another host form is the same bucket; a claimed address is ignored.
    for authority in ["ACME.localhost.:3000", "portal.acme.test"] {
        assert_eq!(
            call(&a, h, authority, "/api/tasks", &[]).await.status,
            429,
            "{authority}"
        );
    }
    let forged = call(
        &a,
        h,
        "acme.localhost:3000",
        "/api/tasks",
        &[
            ("spin-client-addr", "10.9.9.9:1"),
            ("x-forwarded-for", "10.9.9.9"),
        ],
    )
    .await;
    assert_eq!(forged.status, 429);
    // Unrouted paths spend the budget too (and are counted as 4xx).
    assert_eq!(
        call(&c, h, "acme.localhost:3000", "/nope", &[])
            .await
            .status,
        404
    );

    // Metering: flushed by the first request after the interval (1 s here), once it has
    // answered.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        call(&c, h, "acme.localhost:3000", "/api/tasks", &[])
            .await
            .status,
        200
    );
    let count = |json: &Value, family: &str| -> i64 {
        json.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status_family"] == family && r["audience"] == "anonymous")
            .map(|r| r["requests"].as_i64().unwrap())
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let json = loop {
        let json: Value =
            serde_json::from_str(&tg(&app, &["usage", "acme", "--format", "json"])).unwrap();
        if count(&json, "2xx") == 12 || Instant::now() > deadline {
            break json;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(count(&json, "2xx"), 12, "{json}");
    assert_eq!(count(&json, "429"), 23, "{json}");
    assert_eq!(count(&json, "4xx"), 1, "{json}");
    assert!(json
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["route_class"] == "read"));
    let csv = tg(&app, &["usage", "acme", "--format", "csv"]);
    assert!(
        csv.starts_with("day,route_class,status_family,audience,requests\n"),
        "{csv}"
    );
    // Globex's one request is globex's.
    let globex: Value =
        serde_json::from_str(&tg(&app, &["usage", "globex", "--format", "json"])).unwrap();
    assert_eq!(globex.as_array().unwrap().len(), 1, "{globex}");
    assert_eq!(globex[0]["requests"], 1);
    // Without a tenant's context the application role sees no usage, and it cannot write any.
    assert_eq!(
        as_app(&app, "SELECT count(*) FROM tenantgate.usage_daily").as_deref(),
        Ok("0")
    );
    let forged = as_app(
        &app,
        &format!("INSERT INTO tenantgate.usage_daily (tenant_id, day, route_class, status_family, audience, requests) \
                  VALUES ('{ACME}', current_date, 'read', '2xx', 'user', -100)"),
    );
    assert!(forged.unwrap_err().contains("permission denied"));
    assert!(statuses.iter().filter(|s| **s == 429).count() == 20);
}

/// Sends from `clients` concurrent loops for `secs` against `hosts` (round robin), counting
/// answers that were not 429. Each client's connection is opened first on a tenant without
/// limits, and the bucket is warmed and refilled, so the measured span holds only limited
/// requests. Returns (admitted, seconds from the first send to the last answer).
async fn hammer(hosts: &[&TestHost], authority: &str, clients: usize, secs: f64) -> (u64, f64) {
    // Warming the tenant (and its limits document) into each instance's cache must not spend
    // the bucket under test: a token that does not verify is refused at authentication, before
    // the rate limit, so the bucket starts full with no waiting for a refill.
    let warm = client_from("127.0.0.11");
    for host in hosts {
        let r = call(
            &warm,
            host,
            authority,
            "/nope",
            &[("authorization", "Bearer not-a-token")],
        )
        .await;
        assert_eq!(r.status, 401, "the warm-up spent nothing: {:?}", r.body);
        assert!(r.headers.get("ratelimit").is_none(), "{:?}", r.headers);
    }
    let mut prepared = Vec::new();
    for i in 0..clients {
        let url = hosts[i % hosts.len()].url("/nope");
        let c = client_from(&format!("127.0.1.{}", i + 1));
        c.get(&url)
            .header("host", "globex.localhost:3000")
            .send()
            .await
            .unwrap();
        prepared.push((c, url));
    }
    let admitted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for (c, url) in prepared {
        let admitted = admitted.clone();
        let authority = authority.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut last = start;
            while Instant::now() < until {
                let s = c
                    .get(&url)
                    .header("host", &authority)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                last = Instant::now();
                assert!(s == 404 || s == 429, "{s}");
                if s != 429 {
                    admitted.fetch_add(1, Ordering::SeqCst);
                }
            }
            last
        }));
    }
    let mut last = start;
    for t in tasks {
        last = last.max(t.await.unwrap());
    }
    (
        admitted.load(Ordering::SeqCst),
        (last - start).as_secs_f64(),
    )
}

fn within_one_percent(admitted: u64, burst: f64, per_sec: f64, elapsed: f64) {
    let expected = burst + per_sec * elapsed;
    let tolerance = (expected * 0.01).max(2.0);
    assert!(
        (admitted as f64 - expected).abs() <= tolerance,
        "admitted {admitted}, expected {expected:.1} ± {tolerance:.1} ({elapsed:.3} s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_with_the_key_value_store_admits_rate_times_time_plus_burst() {
    let app = App::start().await;
    // 100/s with a burst of 20 for all anonymous traffic; per-client unlimited.
    tg(
        &app,
        &["tenant", "limits", "acme", "--set", "anonymous=6000/1m:20"],
    );
    let (admitted, elapsed) = hammer(&[&app.host], "acme.localhost:3000", 8, 4.0).await;
    within_one_percent(admitted, 20.0, 100.0, elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_admit_one_limit_and_survive_redis_restarts() {
    let redis = RedisServer::start();
    let port = redis.port();
    let url = format!("redis://127.0.0.1:{port}");
    let hostport = format!("127.0.0.1:{port}");
    let settings = [
        ("SPIN_VARIABLE_RATE_LIMIT_STORE", "redis"),
        ("SPIN_VARIABLE_REDIS_URL", url.as_str()),
        ("SPIN_VARIABLE_REDIS_HOST", hostport.as_str()),
    ];
    let app = App::start_with(&settings).await;
    let second = app.another_host(&settings).await;
    tg(
        &app,
        &["tenant", "limits", "acme", "--set", "anonymous=6000/1m:20"],
    );
    let (admitted, elapsed) = hammer(&[&app.host, &second], "acme.localhost:3000", 8, 4.0).await;
    within_one_percent(admitted, 20.0, 100.0, elapsed);

    // Redis goes away: both instances refuse with 503 (the default, closed), the sign-in
    // routes too; nothing is let through unchecked.
    drop(redis);
    let c = client_from("127.0.0.5");
    for host in [&app.host, &second] {
        for path in ["/api/tasks", "/auth/login"] {
            let r = call(&c, host, "acme.localhost:3000", path, &[]).await;
            assert_eq!(
                (r.status, code(&r.body)),
                (503, "dependency_unavailable".into())
            );
        }
    }
    // A tenant without limits needs no store.
    assert_eq!(
        call(&c, &second, "globex.localhost:3000", "/api/tasks", &[])
            .await
            .status,
        200
    );
    // Redis is back on the same address: served again without restarting the gateway.
    let _redis = RedisServer::start_on(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = call(&c, &second, "acme.localhost:3000", "/api/tasks", &[]).await;
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_local_fallback_limits_each_instance_at_its_share() {
    // Nothing listens on this port.
    let port = tenantgate_tests::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let hostport = format!("127.0.0.1:{port}");
    let app = App::start_with(&[
        ("SPIN_VARIABLE_RATE_LIMIT_STORE", "redis"),
        ("SPIN_VARIABLE_REDIS_URL", &url),
        ("SPIN_VARIABLE_REDIS_HOST", &hostport),
        ("SPIN_VARIABLE_RATE_LIMIT_UNAVAILABLE", "local"),
        ("SPIN_VARIABLE_RATE_LIMIT_INSTANCES", "2"),
    ])
    .await;
    tg(
        &app,
        &[
            "tenant",
            "limits",
            "acme",
            "--set",
            "client=6/1m:10",
            "--set",
            "auth=6/1m:10",
        ],
    );
    let c = client_from("127.0.0.6");
    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(
            call(&c, &app.host, "acme.localhost:3000", "/api/tasks", &[])
                .await
                .status,
        );
    }
    assert_eq!(
        got,
        [200, 200, 200, 200, 200, 429, 429, 429],
        "burst 10 / 2 instances"
    );
    // The sign-in routes never fall back.
    let r = call(&c, &app.host, "acme.localhost:3000", "/auth/login", &[]).await;
    assert_eq!(
        (r.status, code(&r.body)),
        (503, "dependency_unavailable".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_neighbour_changes_nothing_and_a_new_limit_applies_within_5_s_under_load() {
    let app = App::start().await;
    tg(
        &app,
        &["tenant", "limits", "acme", "--set", "anonymous=600/1m:10"],
    );
    tg(
        &app,
        &["tenant", "limits", "globex", "--set", "anonymous=1200/1m:5"],
    );
    // acme flooded far past its limit while globex sends 10 requests a second, under its own.
    let flood = {
        let url = app.host.url("/nope");
        tokio::spawn(async move {
            let c = client_from("127.0.0.7");
            let until = Instant::now() + Duration::from_secs(3);
            let mut n = 0u64;
            while Instant::now() < until {
                c.get(&url)
                    .header("host", "acme.localhost:3000")
                    .send()
                    .await
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    let g = client_from("127.0.0.8");
    for _ in 0..25 {
        let r = call(&g, &app.host, "globex.localhost:3000", "/api/tasks", &[]).await;
        assert_eq!(
            r.status, 200,
            "globex refused while acme is flooded: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = flood.await.unwrap();
    assert!(sent > 60, "the flood was not 10x acme's limit: {sent}");

    // Under load, acme's limit is lowered; the gateway applies it within 5 s.
    tg(&app, &["tenant", "limits", "acme", "--clear"]);
    // The unlimited document is in effect once an answer spends no bucket (no RateLimit
    // headers), within the cache's 5 s.
    let load = client_from("127.0.0.9");
    let cleared = Instant::now();
    loop {
        let r = call(&load, &app.host, "acme.localhost:3000", "/nope", &[]).await;
        if r.status == 404 && r.headers.get("ratelimit-policy").is_none() {
            break;
        }
        assert!(
            cleared.elapsed() < Duration::from_millis(5_500),
            "the cleared limits are not in effect after 5 s: {} {:?}",
            r.status,
            r.headers
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..20 {
        assert_eq!(
            call(&load, &app.host, "acme.localhost:3000", "/nope", &[])
                .await
                .status,
            404
        );
    }
    tg(
        &app,
        &["tenant", "limits", "acme", "--set", "client=60/1m:1"],
    );
    let changed = Instant::now();
    loop {
        let r = call(&load, &app.host, "acme.localhost:3000", "/nope", &[]).await;
        if r.status == 429 {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_millis(5_500),
            "not in effect after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the change is audited.
    let events = app.pg.psql(
        "postgres",
        &format!(
            "SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{ACME}' \
             AND action = 'tenant.limits_updated' AND actor_kind = 'platform_admin'"
        ),
    );
    assert_eq!(events.trim(), "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_quota_counts_signed_in_requests_only() {
    let issuers = issuers();
    let app = App::start_with(&[("SPIN_VARIABLE_JWT_ISSUERS", &issuers)]).await;
    tg(&app, &["tenant", "limits", "acme", "--quota", "3"]);
    let bearer = format!("Bearer {}", token("a", json!({ "org_id": ACME })));
    let c = client_from("127.0.0.10");
    let auth = [("authorization", bearer.as_str())];
    for i in 0..3 {
        let r = call(&c, &app.host, "acme.localhost:3000", "/api/tasks", &auth).await;
        assert_eq!(r.status, 200, "{i}: {}", r.body);
        assert_eq!(
            r.header("ratelimit")
                .map(|v| v.starts_with(&format!("\"monthly\";r={}", 2 - i))),
            Some(true),
            "{:?}",
            r.header("ratelimit")
        );
    }
    let r = call(&c, &app.host, "acme.localhost:3000", "/api/tasks", &auth).await;
    assert_eq!((r.status, code(&r.body)), (429, "quota_exceeded".into()));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=31 * 86_400).contains(&retry), "{retry}");
    // Anonymous traffic is not the signed-in users' quota, and does not spend it.
    assert_eq!(
        call(&c, &app.host, "acme.localhost:3000", "/api/tasks", &[])
            .await
            .status,
        200
    );
    // Raising it serves them again (within the 5 s bound).
    tg(&app, &["tenant", "limits", "acme", "--quota", "100"]);
    let deadline = Instant::now() + Duration::from_secs(6);
    while call(&c, &app.host, "acme.localhost:3000", "/api/tasks", &auth)
        .await
        .status
        != 200
    {
        assert!(Instant::now() < deadline, "raised quota not in effect");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_and_limits_through_the_cli_are_validated_and_audited() {
    let app = App::start().await;
    // Plans: list, create, change, show as JSON.
    let list = tg(&app, &["plan", "list"]);
    assert!(
        list.contains("pro (Pro)") && list.contains("free (Free)"),
        "{list}"
    );
    tg(
        &app,
        &[
            "plan",
            "set",
            "team",
            "--name",
            "Team",
            "--set",
            "tenant=3000/1m:300",
            "--quota",
            "1000000",
        ],
    );
    tg(
        &app,
        &[
            "plan",
            "set",
            "team",
            "--set",
            "user=300/1m",
            "--unset",
            "tenant",
        ],
    );
    let team: Value =
        serde_json::from_str(&tg(&app, &["plan", "show", "team", "--format", "json"])).unwrap();
    assert_eq!(
        team["limits"],
        json!({"user": {"requests": 300, "per_seconds": 60}, "monthly_requests": 1000000})
    );
    let plan_events = app.pg.psql(
        "postgres",
        "SELECT string_agg(action, ',' ORDER BY id) FROM tenantgate.audit_log WHERE target = 'team' AND tenant_id IS NULL",
    );
    assert_eq!(plan_events.trim(), "plan.created,plan.updated");

    // A tenant: moved to the plan, one override, one kind removed, one back to the plan's.
    tg(
        &app,
        &[
            "tenant",
            "limits",
            "acme",
            "--plan",
            "team",
            "--set",
            "auth=5/1m:2",
            "--unset",
            "user",
        ],
    );
    let l: Value =
        serde_json::from_str(&tg(&app, &["tenant", "limits", "acme", "--format", "json"])).unwrap();
    assert_eq!(l["plan"], "team");
    assert_eq!(
        l["effective"],
        json!({"auth": {"requests": 5, "per_seconds": 60, "burst": 2}, "monthly_requests": 1000000})
    );
    tg(&app, &["tenant", "limits", "acme", "--inherit", "user"]);
    let l: Value =
        serde_json::from_str(&tg(&app, &["tenant", "limits", "acme", "--format", "json"])).unwrap();
    assert_eq!(l["effective"]["user"]["requests"], 300);

    // Bad input: a clear error, nothing changed.
    let before = app
        .pg
        .psql("postgres", "SELECT count(*) FROM tenantgate.audit_log");
    for (args, needle) in [
        (
            vec!["tenant", "limits", "acme", "--set", "client=0/1m"],
            "at least 1",
        ),
        (
            vec!["tenant", "limits", "acme", "--set", "client=10/1y"],
            "REQUESTS/PERIOD",
        ),
        (
            vec!["tenant", "limits", "acme", "--set", "bogus=10/1m"],
            "unknown limit",
        ),
        (
            vec!["tenant", "limits", "acme", "--plan", "nope"],
            "no such plan",
        ),
        (
            vec!["tenant", "limits", "nobody", "--quota", "5"],
            "no tenant",
        ),
        (vec!["plan", "set", "Bad Id", "--quota", "5"], "plan id"),
        (
            vec!["plan", "set", "team", "--inherit", "user"],
            "unexpected argument",
        ),
        (vec!["usage", "acme", "--from", "yesterday"], "YYYY-MM-DD"),
    ] {
        let (ok, out, err) = tg_out(&app, &args);
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let after = app
        .pg
        .psql("postgres", "SELECT count(*) FROM tenantgate.audit_log");
    assert_eq!(before, after);
    // The application role (what backends hold) reads no tenant's overrides.
    let overrides = as_app(&app, "SELECT count(*) FROM tenantgate.tenant_limits");
    assert!(overrides.unwrap_err().contains("permission denied"));
}
