//! The cross-tenant matrix: for both tenant tables and all three placements, every
//! kind of access to a victim's row, run by a component holding another tenant's
//! valid context, refused; each paired with the victim doing the same (allowed).

use crate::hostile::cell;
use crate::world::*;

struct Table {
    name: &'static str,
    /// Column the attacks try to overwrite.
    column: &'static str,
    /// Extra column list and values for an insert (after tenant_id[, id]).
    insert_cols: &'static str,
}

const TABLES: [Table; 2] = [
    Table {
        name: "projects",
        column: "name",
        insert_cols: "name",
    },
    Table {
        name: "tasks",
        column: "title",
        insert_cols: "project_id, title",
    },
];

fn insert_vals(t: &Table, owner: &Tenant) -> String {
    match t.name {
        "projects" => "'pwned'".into(),
        _ => format!("'{}', 'pwned'", owner.project),
    }
}

/// (operation, SQL for `victim`'s `row`, attacker's expected first cell, victim's).
fn operations(
    t: &Table,
    attacker: &Tenant,
    victim: &Tenant,
    row: &str,
) -> Vec<(&'static str, String, &'static str, &'static str)> {
    let (tbl, col) = (t.name, t.column);
    vec![
        ("read by id", format!("SELECT count(*) FROM {tbl} WHERE id = '{row}'"), "0", "1"),
        (
            "list",
            format!("SELECT count(*) FILTER (WHERE id = '{row}') FROM (SELECT id FROM {tbl} ORDER BY created_at LIMIT 100) l"),
            "0",
            "1",
        ),
        ("count", format!("SELECT count(*) FROM {tbl} WHERE tenant_id = '{}'", victim.id), "0", if tbl == "tasks" { "3" } else { "1" }),
        (
            "update",
            format!("WITH u AS (UPDATE {tbl} SET {col} = 'pwned' WHERE id = '{row}' RETURNING 1) SELECT count(*) FROM u"),
            "0",
            "1",
        ),
        ("delete", format!("WITH d AS (DELETE FROM {tbl} WHERE id = '{row}' RETURNING 1) SELECT count(*) FROM d"), "0", "1"),
        (
            "insert with the victim's tenant id",
            format!("INSERT INTO {tbl} (tenant_id, {}) VALUES ('{}', {}) RETURNING 'inserted'", t.insert_cols, victim.id, insert_vals(t, victim)),
            "ERR",
            "inserted",
        ),
        (
            "move the victim's row to us",
            format!("WITH u AS (UPDATE {tbl} SET tenant_id = '{}' WHERE id = '{row}' RETURNING 1) SELECT count(*) FROM u", attacker.id),
            "0",
            // The victim moving its row to another tenant fails WITH CHECK.
            "ERR",
        ),
        (
            "move a row to the victim",
            format!("WITH u AS (UPDATE {tbl} SET tenant_id = '{}' WHERE id = '{row}' RETURNING 1) SELECT count(*) FROM u", victim.id),
            "0",
            "1",
        ),
        (
            "upsert over the victim's key",
            format!(
                "INSERT INTO {tbl} (tenant_id, id, {}) VALUES ('{}', '{row}', {}) \
                 ON CONFLICT (tenant_id, id) DO UPDATE SET {col} = 'pwned' RETURNING 'upserted'",
                t.insert_cols,
                victim.id,
                insert_vals(t, victim)
            ),
            "ERR",
            "upserted",
        ),
    ]
}

fn check(what: &str, got: &str, want: &str) {
    if want == "ERR" {
        assert!(
            got.starts_with("ERR"),
            "{what}: expected a refusal, got {got}"
        );
    } else {
        assert_eq!(got, want, "{what}");
    }
}

#[tokio::test]
async fn no_tenant_reaches_another_in_any_placement() {
    let w = World::start().await;
    // (placement, victim, the attacker's context aimed at the victim's placement)
    let attacks = [
        (
            "shared",
            &GLOBEX,
            sign_claims(&claims(&ACME, &ACME, &["tasks.read", "tasks.write"]), KEY),
        ),
        (
            "schema",
            &GAMMA,
            sign_claims(&claims(&ACME, &GAMMA, &["tasks.read", "tasks.write"]), KEY),
        ),
        (
            "dedicated",
            &DELTA,
            sign_claims(&claims(&ACME, &DELTA, &["tasks.read", "tasks.write"]), KEY),
        ),
    ];
    let mut checked = 0;
    for (placement, victim, attacker_ctx) in &attacks {
        let url = w.app_url(victim);
        for t in &TABLES {
            let row = if t.name == "tasks" {
                victim.tasks[0]
            } else {
                victim.project
            };
            let before = w.checksum(victim, t.name);
            for (op, sql, attacker_wants, victim_wants) in operations(t, &ACME, victim, row) {
                let what = format!("{placement}/{}/{op}", t.name);
                // The attack commits whatever it managed to do.
                let (s, out) = w
                    .hostile(
                        "library",
                        &url,
                        Some(attacker_ctx),
                        std::slice::from_ref(&sql),
                    )
                    .await;
                assert_eq!(s, 200, "{what}: {out}");
                check(
                    &format!("{what} (attacker)"),
                    &cell(&out, 0),
                    attacker_wants,
                );
                assert_eq!(
                    w.checksum(victim, t.name),
                    before,
                    "{what}: victim rows unchanged"
                );
                // The control runs as the victim and is rolled back.
                let (s, out) = w
                    .hostile(
                        "library",
                        &url,
                        Some(&ctx(victim)),
                        &[sql, "SELECT 1/0".into()],
                    )
                    .await;
                assert_eq!(s, 200, "{what}: {out}");
                check(
                    &format!("{what} (victim control)"),
                    &cell(&out, 0),
                    victim_wants,
                );
                checked += 1;
            }
            assert_eq!(w.checksum(victim, t.name), before, "{placement}/{}", t.name);
        }
    }
    assert_eq!(checked, 3 * 2 * 9);
}
