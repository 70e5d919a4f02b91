//! The `tasks` API through the host, in every placement.

use serde_json::{json, Value};

use crate::world::*;

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {v}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tasks_api_works_in_every_placement() {
    let w = World::start().await;
    for t in [&ACME, &GAMMA, &DELTA] {
        let c = ctx(t);
        let others: Vec<(&Tenant, String)> = [&ACME, &GLOBEX, &GAMMA, &DELTA]
            .into_iter()
            .filter(|o| o.id != t.id)
            .map(|o| (o, w.checksum(o, "tasks")))
            .collect();

        let (s, page) = w.api("GET", "/api/tasks", Some(&c), None).await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(
            ids(&page),
            t.tasks.to_vec(),
            "{}: its own tasks, in creation order",
            t.slug
        );

        // Keyset paging: 2, then the last one, then no cursor.
        let (_, p1) = w.api("GET", "/api/tasks?limit=2", Some(&c), None).await;
        assert_eq!(ids(&p1), t.tasks[..2].to_vec());
        let next = p1["next"]
            .as_str()
            .expect("a full page has a cursor")
            .to_owned();
        let (_, p2) = w
            .api(
                "GET",
                &format!("/api/tasks?limit=2&after={next}"),
                Some(&c),
                None,
            )
            .await;
        assert_eq!(ids(&p2), t.tasks[2..].to_vec());
        assert!(p2["next"].is_null());

        // Create, read, update, filter, delete.
        let (s, project) = w
            .api(
                "POST",
                "/api/projects",
                Some(&c),
                Some(json!({"name": " Launch "})),
            )
            .await;
        assert_eq!(s, 201, "{project}");
        assert_eq!(project["name"], "Launch");
        let pid = project["id"].as_str().unwrap();
        let (s, task) = w
            .api(
                "POST",
                "/api/tasks",
                Some(&c),
                Some(json!({"project_id": pid, "title": "write the plan"})),
            )
            .await;
        assert_eq!(s, 201, "{task}");
        assert_eq!(
            (task["done"].clone(), task["project_id"].clone()),
            (json!(false), json!(pid))
        );
        let tid = task["id"].as_str().unwrap();
        let (s, got) = w
            .api("GET", &format!("/api/tasks/{tid}"), Some(&c), None)
            .await;
        assert_eq!((s, got["title"].clone()), (200, json!("write the plan")));
        let (s, patched) = w
            .api(
                "PATCH",
                &format!("/api/tasks/{tid}"),
                Some(&c),
                Some(json!({"done": true})),
            )
            .await;
        assert_eq!(
            (s, patched["done"].clone(), patched["title"].clone()),
            (200, json!(true), json!("write the plan"))
        );
        let (_, done) = w
            .api(
                "GET",
                &format!("/api/tasks?done=true&project_id={pid}"),
                Some(&c),
                None,
            )
            .await;
        assert_eq!(ids(&done), vec![tid.to_owned()]);

        // The rows landed in this tenant's placement, under its id.
        let (pg, schema) = w.schema_of(t);
        let owner = pg.psql(
            "postgres",
            &format!("SELECT tenant_id FROM {schema}.tasks WHERE id = '{tid}'"),
        );
        assert_eq!(owner, t.id, "{} task stored in {schema}", t.slug);

        let (s, _) = w
            .api("DELETE", &format!("/api/tasks/{tid}"), Some(&c), None)
            .await;
        assert_eq!(s, 204);
        let (s, gone) = w
            .api("GET", &format!("/api/tasks/{tid}"), Some(&c), None)
            .await;
        assert_eq!(
            (s, gone["error"]["code"].clone()),
            (404, json!("not_found"))
        );
        let (s, _) = w
            .api("DELETE", &format!("/api/projects/{pid}"), Some(&c), None)
            .await;
        assert_eq!(s, 204);

        for (o, before) in others {
            assert_eq!(
                w.checksum(o, "tasks"),
                before,
                "{}'s tasks untouched by {}",
                o.slug,
                t.slug
            );
        }
    }
}

#[tokio::test]
async fn another_tenants_ids_answer_404_and_stay_unchanged() {
    let w = World::start().await;
    for (attacker, victim) in [
        (&ACME, &GLOBEX),
        (&ACME, &GAMMA),
        (&GAMMA, &DELTA),
        (&DELTA, &ACME),
        (&GLOBEX, &ACME),
    ] {
        let (a, v) = (ctx(attacker), ctx(victim));
        let before = (w.checksum(victim, "tasks"), w.checksum(victim, "projects"));
        let task = victim.tasks[0];
        let project = victim.project;
        for (method, path, body) in [
            ("GET", format!("/api/tasks/{task}"), None),
            (
                "PATCH",
                format!("/api/tasks/{task}"),
                Some(json!({"title": "pwned"})),
            ),
            ("DELETE", format!("/api/tasks/{task}"), None),
            ("GET", format!("/api/projects/{project}"), None),
            (
                "PATCH",
                format!("/api/projects/{project}"),
                Some(json!({"name": "pwned"})),
            ),
            ("DELETE", format!("/api/projects/{project}"), None),
        ] {
            let (s, e) = w.api(method, &path, Some(&a), body).await;
            assert_eq!(
                (s, e["error"]["code"].clone()),
                (404, json!("not_found")),
                "{} {method} {path} of {}",
                attacker.slug,
                victim.slug
            );
            // Control: the owner reaches the same id.
            let (s, _) = w.api("GET", &path, Some(&v), None).await;
            assert_eq!(s, 200, "{} GET {path}", victim.slug);
        }
        // A task in the victim's project: the project is not found for the attacker.
        let (s, e) = w
            .api(
                "POST",
                "/api/tasks",
                Some(&a),
                Some(json!({"project_id": project, "title": "x"})),
            )
            .await;
        assert_eq!(
            (s, e["error"]["message"].clone()),
            (404, json!("project not found")),
            "{e}"
        );
        // Control: in its own project it works.
        let (s, own) = w
            .api(
                "POST",
                "/api/tasks",
                Some(&a),
                Some(json!({"project_id": attacker.project, "title": "x"})),
            )
            .await;
        assert_eq!(s, 201, "{own}");
        let (s, _) = w
            .api(
                "DELETE",
                &format!("/api/tasks/{}", own["id"].as_str().unwrap()),
                Some(&a),
                None,
            )
            .await;
        assert_eq!(s, 204);
        // Lists never show the victim's rows.
        let (_, list) = w.api("GET", "/api/tasks", Some(&a), None).await;
        assert!(
            ids(&list)
                .iter()
                .all(|id| !victim.tasks.contains(&id.as_str())),
            "{list}"
        );
        assert_eq!(
            (w.checksum(victim, "tasks"), w.checksum(victim, "projects")),
            before,
            "{}'s rows unchanged after {}'s attempts",
            victim.slug,
            attacker.slug
        );
    }
}

#[tokio::test]
async fn refusals_are_clear_and_change_nothing() {
    let w = World::start().await;
    let before = (w.checksum(&ACME, "tasks"), w.checksum(&ACME, "projects"));
    let good = ctx(&ACME);
    let project = ACME.project;
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or("<none>").to_owned();

    // Context: missing, malformed, forged, swapped, expired; each against the valid control.
    let (s, _) = w.api("GET", "/api/tasks", Some(&good), None).await;
    assert_eq!(s, 200);
    let (s, e) = w.api("GET", "/api/tasks", None, None).await;
    assert_eq!((s, code(&e)), (401, "unauthenticated".into()));
    let (s, e) = w.api("GET", "/api/tasks", Some("garbage"), None).await;
    assert_eq!((s, code(&e)), (400, "bad_request".into()));
    let forged = sign_claims(
        &claims(&ACME, &ACME, &["tasks.read", "tasks.write"]),
        b"not-the-key-not-the-key-not-the!",
    );
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[2] = ctx(&GLOBEX).split('.').nth(2).unwrap().to_owned(); // globex claims, acme signature
    let swapped = parts.join(".");
    let mut old = claims(&ACME, &ACME, &["tasks.read", "tasks.write"]);
    old["exp"] = json!(now() - 1);
    let expired = sign_claims(&old, KEY);
    for (name, c) in [
        ("forged", &forged),
        ("swapped", &swapped),
        ("expired", &expired),
    ] {
        let (s, e) = w.api("GET", "/api/tasks", Some(c), None).await;
        assert_eq!(
            (s, code(&e)),
            (401, "invalid_context".into()),
            "{name}: {e}"
        );
        let (s, e) = w
            .api("POST", "/api/projects", Some(c), Some(json!({"name": "x"})))
            .await;
        assert_eq!(
            (s, code(&e)),
            (401, "invalid_context".into()),
            "{name}: {e}"
        );
    }
    // Permissions: read-only member reads but cannot write.
    let reader = sign_claims(&claims(&ACME, &ACME, &["tasks.read"]), KEY);
    let (s, _) = w.api("GET", "/api/tasks", Some(&reader), None).await;
    assert_eq!(s, 200);
    let (s, e) = w
        .api(
            "POST",
            "/api/projects",
            Some(&reader),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!((s, code(&e)), (403, "forbidden".into()));
    let nobody = sign_claims(&claims(&ACME, &ACME, &[]), KEY);
    let (s, e) = w.api("GET", "/api/tasks", Some(&nobody), None).await;
    assert_eq!((s, code(&e)), (403, "forbidden".into()));
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("tasks.read"),
        "{e}"
    );

    // A tenant being moved: reads yes, writes 503.
    let mut moving = claims(&ACME, &ACME, &["tasks.read", "tasks.write"]);
    moving["ro"] = json!(true);
    let moving = sign_claims(&moving, KEY);
    let (s, _) = w.api("GET", "/api/tasks", Some(&moving), None).await;
    assert_eq!(s, 200);
    let (s, e) = w
        .api(
            "POST",
            "/api/projects",
            Some(&moving),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!((s, code(&e)), (503, "tenant_read_only".into()));

    // Bodies and parameters.
    let long = "x".repeat(501);
    for (method, path, body) in [
        (
            "POST",
            "/api/tasks".to_owned(),
            Some(json!("not an object")),
        ),
        (
            "POST",
            "/api/tasks".to_owned(),
            Some(json!({"project_id": project})),
        ),
        (
            "POST",
            "/api/tasks".to_owned(),
            Some(json!({"project_id": project, "title": "  "})),
        ),
        (
            "POST",
            "/api/tasks".to_owned(),
            Some(json!({"project_id": project, "title": long})),
        ),
        (
            "POST",
            "/api/tasks".to_owned(),
            Some(json!({"project_id": "p1", "title": "x"})),
        ),
        // The tenant is never the client's to choose.
        (
            "POST",
            "/api/tasks".to_owned(),
            Some(json!({"project_id": project, "title": "x", "tenant_id": GLOBEX.id})),
        ),
        (
            "POST",
            "/api/projects".to_owned(),
            Some(json!({"name": "x", "tenant_id": GLOBEX.id})),
        ),
        (
            "PATCH",
            format!("/api/tasks/{}", ACME.tasks[0]),
            Some(json!({"done": "yes"})),
        ),
        ("GET", "/api/tasks?limit=0".to_owned(), None),
        ("GET", "/api/tasks?limit=1000".to_owned(), None),
        ("GET", "/api/tasks?after=bm90LWEtY3Vyc29y".to_owned(), None),
        ("GET", "/api/tasks?done=maybe".to_owned(), None),
    ] {
        let (s, e) = w.api(method, &path, Some(&good), body.clone()).await;
        assert_eq!(
            (s, code(&e)),
            (400, "bad_request".into()),
            "{method} {path} {body:?}: {e}"
        );
    }
    // Raw bytes that are not JSON at all.
    let resp = tenantgate_tests::host::client()
        .post(w.host.url("/api/tasks"))
        .header("x-tenant-context", &good)
        .body(vec![0xff, 0x00, 0x7b])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let (s, e) = w.api("GET", "/api/nothing-here", Some(&good), None).await;
    assert_eq!((s, code(&e)), (404, "not_found".into()));
    let (s, e) = w.api("PUT", "/api/tasks", Some(&good), None).await;
    assert_eq!((s, code(&e)), (405, "method_not_allowed".into()));
    let (s, e) = w
        .api("GET", "/api/tasks/not-a-uuid", Some(&good), None)
        .await;
    assert_eq!((s, code(&e)), (404, "not_found".into()));

    // Every error has the one JSON shape, with the request id, and no database text.
    let resp = tenantgate_tests::host::client()
        .get(w.host.url("/api/tasks"))
        .header("x-tenant-context", &expired)
        .header("x-request-id", "rid-123")
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], "rid-123");
    assert!(
        !body.to_string().to_lowercase().contains("postgres"),
        "{body}"
    );

    assert_eq!(
        (w.checksum(&ACME, "tasks"), w.checksum(&ACME, "projects")),
        before
    );
}

#[tokio::test]
async fn an_unreachable_dedicated_database_is_503_and_never_the_shared_one() {
    let w = World::start().await;
    let c = ctx(&DELTA);
    let (s, page) = w.api("GET", "/api/tasks", Some(&c), None).await;
    assert_eq!(
        (s, ids(&page)),
        (200, DELTA.tasks.iter().map(|s| s.to_string()).collect())
    );
    // A placement naming a target the component was not configured with: 503, not shared.
    let mut lost = claims(&DELTA, &DELTA, &["tasks.read"]);
    lost["db"] = json!("nowhere");
    let (s, e) = w
        .api("GET", "/api/tasks", Some(&sign_claims(&lost, KEY)), None)
        .await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (503, json!("dependency_unavailable")),
        "{e}"
    );

    w.dedicated.stop();
    for (method, path, body) in [
        ("GET", "/api/tasks".to_owned(), None),
        ("GET", format!("/api/tasks/{}", DELTA.tasks[0]), None),
        (
            "POST",
            "/api/projects".to_owned(),
            Some(json!({"name": "x"})),
        ),
    ] {
        let (s, e) = w.api(method, &path, Some(&c), body).await;
        assert_eq!(
            (s, e["error"]["code"].clone()),
            (503, json!("dependency_unavailable")),
            "{method} {path}: {e}"
        );
    }
    // The other placements keep serving.
    let (s, page) = w.api("GET", "/api/tasks", Some(&ctx(&ACME)), None).await;
    assert_eq!((s, ids(&page).len()), (200, 3));
    // Nothing of delta's went to the shared database.
    assert_eq!(
        w.main.psql(
            "postgres",
            &format!(
                "SELECT count(*) FROM app.projects WHERE tenant_id = '{}'",
                DELTA.id
            )
        ),
        "0"
    );
}
