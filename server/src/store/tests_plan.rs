//! Query-plan tests: every hot read and every retention statement must be answered by seeks on
//! a primary key (`SEARCH`), never by reading a whole table (`SCAN`) or sorting in a temporary
//! b-tree, on an empty database without `ANALYZE` statistics, as a fresh install runs.

use sqlx::Row;

use super::history::{group_rollup_sql, partition_rollup_sql, GROUP_RAW_SQL};
use super::recent::{LAST_GROUP_STATUSES_SQL, RECENT_GROUP_PARTITIONS_SQL, RECENT_PARTITIONS_SQL};
use super::retention::{all_horizons, LATEST_GROUP_STATUSES};
use super::rollup::ROLLUPS;
use super::Store;

const TABLES: [&str; 8] = [
    "partition_samples",
    "group_partition_samples",
    "group_statuses",
    "latest_group_statuses",
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
    if std::env::var_os("STORE_PRINT_PLANS").is_some() {
        eprintln!("{sql}\n    {}", plan.join("\n    "));
    }
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
    let lines = [
        "SEARCH group_statuses USING PRIMARY KEY (cluster=? AND ts_ms>? AND ts_ms<?)",
        "SCAN ticks",
        "SEARCH s USING PRIMARY KEY (cluster=? AND ts_ms=? AND group_id=?)",
    ];
    check(&store, GROUP_RAW_SQL, &lines).await;
    // The generated window starts drive one point seek each (`r` is the rollup table).
    for rollup in ROLLUPS {
        let line = "SEARCH r USING PRIMARY KEY (cluster=? AND window_start_ms=? AND group_id=?)";
        check(&store, &group_rollup_sql(&rollup), &["SCAN windows", line]).await;
        let line = "SEARCH r USING PRIMARY KEY (cluster=? AND window_start_ms=? AND topic=? AND partition=?)";
        check(&store, &partition_rollup_sql(&rollup), &["SCAN windows", line]).await;
    }
}

#[tokio::test]
async fn restart_reads_seek_their_primary_keys() {
    let store = Store::open_in_memory().await.expect("open");
    check(&store, RECENT_PARTITIONS_SQL, &["SEARCH partition_samples USING PRIMARY KEY (cluster=? AND ts_ms>?)"]).await;
    let line = "SEARCH group_partition_samples USING PRIMARY KEY (cluster=? AND ts_ms>?)";
    check(&store, RECENT_GROUP_PARTITIONS_SQL, &[line]).await;
    check(&store, LAST_GROUP_STATUSES_SQL, &["SEARCH latest_group_statuses USING PRIMARY KEY (cluster=?)"]).await;
}

#[tokio::test]
async fn retention_deletes_ranges_of_the_primary_key() {
    let store = Store::open_in_memory().await.expect("open");
    for horizon in all_horizons() {
        let table = horizon.table;
        let next = format!("SEARCH {table} USING PRIMARY KEY (cluster>?)");
        check(&store, &horizon.next_cluster_sql(true), &[&next]).await;
        // latest_group_statuses is keyed by group: its delete reads the cluster's rows (one per group).
        let time =
            if table == LATEST_GROUP_STATUSES.table { String::new() } else { format!(" AND {}<?", horizon.time) };
        let delete = format!("SEARCH {table} USING PRIMARY KEY (cluster=?{time})");
        check(&store, &horizon.delete_sql(), &[&delete]).await;
        // The first cluster: the index's first entry, read in order without sorting.
        let first = plan(&store, &horizon.next_cluster_sql(false)).await;
        assert!(!first.iter().any(|line| line.contains("TEMP B-TREE")), "{first:#?}");
    }
}
