//! The tenant's home page (`/` on its host, served by `tasks`) in Chromium, through the real
//! gateway and the real OIDC IdP (`tests/browser/home.mjs`); and its answers over HTTP: the
//! strict CSP of `/admin`, the files it may serve and the refusals around them.

use tenantgate_tests::browser::{run_script as script, screenshots, strings};

use crate::app::ACME;
use crate::browser_orgs::start;

/// `backend_api::assets::STRICT_CSP`, as a browser receives it.
const STRICT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                          img-src 'self'; connect-src 'self'; form-action 'self'; \
                          frame-ancestors 'none'; base-uri 'none'";

#[tokio::test]
async fn a_visitor_the_owner_and_a_reader_see_the_tenants_tasks_and_the_owner_adds_one() {
    let s = start().await;
    // vera is a member of acme whose role may only read tasks.
    s.sql(&format!(
        "INSERT INTO tenantgate.roles (tenant_id, name, description) VALUES ('{ACME}', 'reader', 'Reads tasks');
         INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission) VALUES ('{ACME}', 'reader', 'tasks.read');
         INSERT INTO tenantgate.users (email, display_name) VALUES ('vera@acme.test', 'Vera Reader');
         INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
           SELECT '{ACME}'::uuid, id, 'reader' FROM tenantgate.users WHERE email = 'vera@acme.test';"
    ));
    let count = || {
        s.sql(&format!(
            "SELECT count(*) FROM app.tasks WHERE tenant_id = '{ACME}'"
        ))
    };
    let before = count();
    let origin = s.origin("acme");
    let r = script(
        "home.mjs",
        &[
            &origin,
            &screenshots("home"),
            "olive",
            "olive-pw",
            "vera",
            "vera-pw",
            "acme: hire a band",
        ],
    )
    .await;

    // Anonymous: this app grants anonymous requests nothing, so the API's refusal and the way
    // in; no form.
    assert_eq!(r["anonymous_code"], "forbidden", "{r}");
    assert_eq!(r["anonymous_sign_in"], "/auth/login?return_to=%2F", "{r}");
    assert_eq!(r["anonymous_forms"], 0, "{r}");

    // The owner is back on the home page after the login and sees acme's tasks, only acme's.
    assert_eq!(r["owner_url"], format!("{origin}/"), "{r}");
    assert_eq!(r["brand"], "Acme", "{r}");
    assert_eq!(
        strings(&r["owner_titles"]),
        ["acme: book venue", "acme: print flyers"],
        "{r}"
    );
    assert_eq!(r["settings_link"], "/admin", "{r}");
    // Added from the keyboard: the notice takes focus, the list and the database have it.
    assert_eq!(r["added_notice"], "Task added.", "{r}");
    assert_eq!(r["focused_notice"], true, "{r}");
    assert_eq!(
        strings(&r["owner_titles_after"]),
        [
            "acme: book venue",
            "acme: print flyers",
            "acme: hire a band"
        ],
        "{r}"
    );
    let before: i64 = before.parse().unwrap();
    assert_eq!(count(), (before + 1).to_string());
    assert_eq!(
        s.sql("SELECT u.email FROM app.tasks t JOIN tenantgate.users u ON u.id = t.created_by_user_id \
               WHERE t.title = 'acme: hire a band'"),
        "olive@acme.test"
    );

    // The reader sees the same tasks and no form; a write from her session is refused, and
    // changes nothing.
    assert_eq!(
        strings(&r["reader_titles"]),
        [
            "acme: book venue",
            "acme: print flyers",
            "acme: hire a band"
        ],
        "{r}"
    );
    assert_eq!(r["reader_forms"], 0, "{r}");
    assert_eq!(r["reader_write"]["status"], 403, "{r}");
    assert_eq!(r["reader_write"]["code"], "forbidden", "{r}");
    assert_eq!(
        r["reader_write"]["message"], "this needs the tasks.write permission",
        "{r}"
    );
    assert_eq!(count(), (before + 1).to_string());
    assert_eq!(
        s.sql("SELECT count(*) FROM app.tasks WHERE title = 'not allowed'"),
        "0"
    );
}

#[tokio::test]
async fn the_home_page_is_served_under_the_strict_csp_and_other_paths_are_refused() {
    let s = start().await;
    // Browsers resolve `*.localhost` to loopback themselves; this client is told to.
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], s.port));
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("acme.localhost", loopback)
        .resolve("localhost", loopback)
        .build()
        .unwrap();
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut req = c.get(format!("{}{path}", s.origin("acme")));
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        req.send()
    };
    let header = |r: &reqwest::Response, n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };

    // The page and its files, each under the strict policy, never framed or sniffed.
    for (path, kind) in [
        ("/", "text/html"),
        ("/assets/home.js", "text/javascript"),
        ("/assets/api.js", "text/javascript"),
        ("/assets/dom.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        let r = get(path, &[]).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(header(&r, "content-type").starts_with(kind), "{path}");
        assert_eq!(header(&r, "content-security-policy"), STRICT_CSP, "{path}");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
    }
    let page = get("/", &[]).await.unwrap().text().await.unwrap();
    assert!(page.contains("<script type=\"module\" src=\"/assets/home.js\">"));

    // Not a file of the page: 404 not_found, JSON to an API client, a page to a browser.
    for path in ["/assets/nope.js", "/assets/home.html", "/nope", "/x/y"] {
        let r = get(path, &[]).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(header(&r, "content-type"), "application/json", "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "not_found", "{path}");
    }
    let r = get(
        "/nope",
        &[("sec-fetch-mode", "navigate"), ("accept", "text/html")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert!(header(&r, "content-type").starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("not_found"));

    // Only GET and HEAD read it; a POST to the page changes nothing and says so.
    let r = c
        .post(format!("{}/", s.origin("acme")))
        .header("origin", s.origin("acme"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow"), "GET, HEAD");
    let r = c
        .head(format!("{}/", s.origin("acme")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The API under it is unchanged: an unknown API path is still the API's 404.
    let r = get("/api/nope", &[]).await.unwrap();
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");

    // The apex has no home page: it names no tenant without a token.
    let r = c
        .get(format!("http://localhost:{}/", s.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
