//! Query-plan tests: every hot read and every retention statement must be answered by seeks on
//! a primary key (`SEARCH`), never by reading a whole table (`SCAN`) or sorting in a temporary
//! b-tree, on an empty database without `ANALYZE` statistics, as a fresh install runs.

use sqlx::Row;

use super::history::{group_rollup_sql, partition_rollup_sql, GROUP_RAW_SQL};
use super::recent::{LAST_GROUP_STATUSES_SQL, RECENT_GROUP_PARTITIONS_SQL, RECENT_PARTITIONS_SQL};
use super::retention::all_series;
use super::rollup::ROLLUPS;
use super::Store;

const TABLES: [&str; 7] = [
    "partition_samples",
    "group_partition_samples",
    "group_statuses",
    "group_rollups_1m",
    "group_rollups_1h",
    "partition_rollups_1m",
    "partition_rollups_1h",
];

/// The plan's detail lines, parameters left unbound (NULL: the plan does not depend on them).
async fn plan(store: &Store, sql: &str) -> Vec<String> {
    let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}")).fetch_all(&store.pool).await.expect(sql);
    rows.iter().map(|row| row.get::<String, _>("detail")).collect()
}

/// Why the plan is not index-only, if it is not.
fn full_scan(plan: &[String]) -> Option<&String> {
    plan.iter()
        .find(|line| line.contains("TEMP B-TREE") || TABLES.iter().any(|t| line.starts_with(&format!("SCAN {t}"))))
}

/// Checks that `sql` reads no table whole, sorts nothing, and that its plan has each `expected`
/// line (a SEARCH naming how much of the key it seeks by).
async fn check(store: &Store, sql: &str, expected: &[&str]) {
    let plan = plan(store, sql).await;
    assert!(full_scan(&plan).is_none(), "{sql}\nplan: {plan:#?}");
    for line in expected {
        assert!(plan.iter().any(|l| l == line), "{sql}\nmissing {line}\nplan: {plan:#?}");
    }
}

#[tokio::test]
async fn the_checker_flags_a_full_scan() {
    let store = Store::open_in_memory().await.expect("open");
    let plan = plan(&store, "SELECT * FROM group_statuses WHERE status = 'OK' ORDER BY total_lag").await;
    assert!(full_scan(&plan).is_some(), "{plan:#?}");
}

#[tokio::test]
async fn history_reads_seek_their_primary_keys() {
    let store = Store::open_in_memory().await.expect("open");
    check(
        &store,
        GROUP_RAW_SQL,
        &["SEARCH group_statuses USING PRIMARY KEY (cluster=? AND group_id=? AND ts_ms>? AND ts_ms<?)"],
    )
    .await;
    for rollup in ROLLUPS {
        let (groups, partitions) = (rollup.group_table, rollup.partition_table);
        let seek = "window_start_ms>? AND window_start_ms<?";
        let line = format!("SEARCH {groups} USING PRIMARY KEY (cluster=? AND group_id=? AND {seek})");
        check(&store, &group_rollup_sql(&rollup), &[&line]).await;
        let line = format!("SEARCH {partitions} USING PRIMARY KEY (cluster=? AND topic=? AND partition=? AND {seek})");
        check(&store, &partition_rollup_sql(&rollup), &[&line]).await;
    }
}

#[tokio::test]
async fn restart_reads_seek_their_primary_keys() {
    let store = Store::open_in_memory().await.expect("open");
    check(&store, RECENT_PARTITIONS_SQL, &["SEARCH partition_samples USING PRIMARY KEY (cluster=? AND ts_ms>?)"]).await;
    let line = "SEARCH group_partition_samples USING PRIMARY KEY (cluster=? AND ts_ms>?)";
    check(&store, RECENT_GROUP_PARTITIONS_SQL, &[line]).await;
    let lines = [
        "SEARCH g USING PRIMARY KEY (cluster=? AND group_id>?)",
        "SEARCH s USING PRIMARY KEY (cluster=? AND group_id=? AND ts_ms=?)",
        "SEARCH m USING PRIMARY KEY (cluster=? AND group_id=?)",
    ];
    check(&store, LAST_GROUP_STATUSES_SQL, &lines).await;
}

#[tokio::test]
async fn retention_seeks_one_series_at_a_time() {
    let store = Store::open_in_memory().await.expect("open");
    for series in all_series() {
        let (table, key, time) = series.parts();
        // SQLite prints a one-column range as `(cluster>?)`, a row-value one as `((a,b)>(?,?))`.
        let range = match key.as_slice() {
            [column] => format!("{column}>?"),
            columns => format!("({})>({})", columns.join(","), vec!["?"; columns.len()].join(",")),
        };
        check(&store, &series.next_key_sql(true), &[&format!("SEARCH {table} USING PRIMARY KEY ({range})")]).await;
        let seek: Vec<String> = key.iter().map(|k| format!("{k}=?")).chain([format!("{time}<?")]).collect();
        let delete = format!("SEARCH {table} USING PRIMARY KEY ({})", seek.join(" AND "));
        check(&store, &series.delete_sql(), &[&delete]).await;
        // The first key: the index's first entry, read in order without sorting.
        let first = plan(&store, &series.next_key_sql(false)).await;
        assert!(!first.iter().any(|line| line.contains("TEMP B-TREE")), "{first:#?}");
    }
}
