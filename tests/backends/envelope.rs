//! tenant-db's one-row envelope (Spin #3671) seen from outside: the host runs with
//! `--spin-compat 4.0`, so a query that returned no row would be an error here. Empty
//! answers stay empty, "not found" stays a 404, and a page keeps its order whatever the
//! rows' physical order.

use serde_json::Value;

use crate::world::*;

fn titles(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {v}"))
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pages_keep_their_order_and_empty_answers_stay_empty() {
    let w = World::start().await;
    let (pg, schema) = w.schema_of(&ACME);
    // 60 tasks written in an order unlike their creation times, so the rows' physical
    // order is not the page's order.
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO {schema}.tasks (tenant_id, project_id, title, created_at)
             SELECT '{}', '{}', 'bulk ' || lpad(n::text, 2, '0'),
                    '2030-01-01'::timestamptz + ((n * 37) % 60) * interval '1 minute'
               FROM generate_series(0, 59) AS n",
            ACME.id, ACME.project
        ),
    );
    let c = ctx(&ACME);
    let mut expected: Vec<(i64, String)> = (0..60)
        .map(|n: i64| ((n * 37) % 60, format!("bulk {n:02}")))
        .collect();
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, t)| t).collect();

    // The seeded three come first (created earlier), then the bulk in creation order.
    let (s, p1) = w.api("GET", "/api/tasks?limit=50", Some(&c), None).await;
    assert_eq!(s, 200, "{p1}");
    let got = titles(&p1);
    assert_eq!(got.len(), 50);
    assert_eq!(got[3..], expected[..47], "{p1}");
    let next = p1["next"].as_str().expect("a cursor").to_owned();
    let (_, p2) = w
        .api(
            "GET",
            &format!("/api/tasks?limit=50&after={next}"),
            Some(&c),
            None,
        )
        .await;
    assert_eq!(titles(&p2), expected[47..], "{p2}");
    assert!(p2["next"].is_null(), "{p2}");

    // A filter that matches nothing is an empty page, not an error.
    let (s, none) = w
        .api(
            "GET",
            "/api/tasks?project_id=a1000000-0000-4000-8000-0000000000ff",
            Some(&c),
            None,
        )
        .await;
    assert_eq!((s, titles(&none).len()), (200, 0), "{none}");
    // An update that matches no row is the usual 404.
    let (s, missing) = w
        .api(
            "PATCH",
            "/api/tasks/a2000000-0000-4000-8000-0000000000ff",
            Some(&c),
            Some(serde_json::json!({"done": true})),
        )
        .await;
    assert_eq!(
        (s, missing["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{missing}"
    );
}
