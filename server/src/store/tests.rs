//! Behaviour tests against real SQLite (in memory, or a temp file where the file matters):
//! migrations, round trips, rollup upserts and grace, retention horizons, history resolution,
//! range parsing, rejected ticks and SQL-looking input stored as plain data.

use crate::evaluator::{GroupState, PartitionState};
use std::time::Duration;

use sqlx::Row;

use super::rollup::{HOUR, MINUTE};
use super::*;

const MIN: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR_MS;
/// An hour-aligned "now" (so 1m and 1h window edges fall on whole multiples of it).
const NOW: i64 = 1_699_999_200_000;

fn partition(topic: &str, partition: i32, ts_ms: i64, log_start_offset: i64, high_watermark: i64) -> PartitionSample {
    PartitionSample { topic: topic.into(), partition, ts_ms, log_start_offset, high_watermark }
}

fn group_partition(group: &str, topic: &str, partition: i32, ts_ms: i64, lag: i64) -> GroupPartitionSample {
    GroupPartitionSample {
        group_id: group.into(),
        topic: topic.into(),
        partition,
        ts_ms,
        committed_offset: 1000 - lag,
        commit_ts_ms: ts_ms - 500,
        high_watermark: 1000,
        lag,
        lag_seconds: (lag > 0).then_some(lag as f64 / 10.0),
        status: if lag > 100 { PartitionState::Warn } else { PartitionState::Ok },
        owner: (partition % 2 == 0).then(|| format!("consumer-{partition}/10.0.0.{partition}")),
        client_id: (partition % 2 == 0).then(|| "client-a".to_owned()),
    }
}

fn status(group: &str, ts_ms: i64, status: &str, total_lag: i64, max_lag_seconds: Option<f64>) -> GroupStatusSample {
    GroupStatusSample {
        group_id: group.into(),
        ts_ms,
        status: GroupState::parse(status).expect("status"),
        total_lag,
        max_lag: total_lag / 2,
        max_lag_seconds,
        partitions: 2,
        members: 1,
        complete: 1.0,
    }
}

fn tick(cluster: &str, ts_ms: i64) -> Tick {
    Tick {
        cluster: cluster.into(),
        ts_ms,
        partitions: vec![],
        group_partitions: vec![],
        groups: vec![],
        replication: vec![],
        liveness: vec![],
    }
}

/// A tick at `ts_ms` with one sample of every kind, all taken at `ts_ms`.
fn full_tick(cluster: &str, group: &str, ts_ms: i64) -> Tick {
    Tick {
        partitions: vec![partition("orders", 0, ts_ms, 0, ts_ms / 1000)],
        group_partitions: vec![group_partition(group, "orders", 0, ts_ms, 5)],
        groups: vec![status(group, ts_ms, "OK", 5, Some(0.5))],
        ..tick(cluster, ts_ms)
    }
}

async fn count(store: &Store, table: &str) -> i64 {
    let row = sqlx::query(&format!("SELECT count(*) FROM {table}")).fetch_one(&store.pool).await.expect("count");
    row.get(0)
}

/// (samples, total_lag_max, total_lag_last, max_lag_seconds_max, max_lag_seconds_last, worst_status)
type GroupWindow = (i64, i64, i64, Option<f64>, Option<f64>, String);

async fn group_window(store: &Store, table: &str, group: &str, window_start_ms: i64) -> Option<GroupWindow> {
    let sql = format!(
        "SELECT samples, total_lag_max, total_lag_last, max_lag_seconds_max, max_lag_seconds_last, worst_status \
         FROM {table} WHERE cluster = 'local' AND group_id = ? AND window_start_ms = ?"
    );
    let row = sqlx::query(&sql).bind(group).bind(window_start_ms).fetch_optional(&store.pool).await.expect("window");
    row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
}

/// (samples, high_watermark_first, high_watermark_last, log_start_offset_last)
async fn partition_window(store: &Store, table: &str, window_start_ms: i64) -> Option<(i64, i64, i64, i64)> {
    let sql = format!(
        "SELECT samples, high_watermark_first, high_watermark_last, log_start_offset_last FROM {table} \
         WHERE cluster = 'local' AND topic = 'orders' AND partition = 0 AND window_start_ms = ?"
    );
    let row = sqlx::query(&sql).bind(window_start_ms).fetch_optional(&store.pool).await.expect("window");
    row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
}

async fn pragma(store: &Store, name: &str) -> String {
    let row = sqlx::query(&format!("PRAGMA {name}")).fetch_one(&store.pool).await.expect("pragma");
    row.try_get::<String, _>(0).unwrap_or_else(|_| row.get::<i64, _>(0).to_string())
}

#[tokio::test]
async fn migrations_apply_to_a_fresh_file_and_again_to_an_existing_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warren.sqlite");
    let store = Store::open(&path).await.expect("fresh open");
    assert_eq!(pragma(&store, "journal_mode").await, "wal");
    assert_eq!(pragma(&store, "synchronous").await, "1", "NORMAL");
    assert_eq!(pragma(&store, "foreign_keys").await, "1");
    assert_eq!(pragma(&store, "busy_timeout").await, "5000");
    store.write_tick(&full_tick("local", "g", NOW)).await.expect("write");
    assert!(store.size_bytes().await.expect("size") > 0);
    store.close().await;

    for _ in 0..2 {
        let store = Store::open(&path).await.expect("reopen");
        assert_eq!(count(&store, "_sqlx_migrations").await, 3);
        assert_eq!(count(&store, "group_statuses").await, 1, "data survives reopening");
        store.close().await;
    }
}

#[tokio::test]
async fn open_names_the_path_it_cannot_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("missing-dir").join("warren.sqlite");
    let err = Store::open(&path).await.expect_err("parent directory is missing");
    assert!(err.to_string().contains("missing-dir"), "{err}");
}

#[tokio::test]
async fn a_tick_round_trips() {
    let store = Store::open_in_memory().await.expect("open");
    let t = Tick {
        partitions: vec![partition("orders", 0, NOW, 10, 500), partition("orders", 1, NOW, 0, 7)],
        group_partitions: vec![
            group_partition("billing", "orders", 0, NOW, 0),
            group_partition("billing", "orders", 1, NOW, 300),
        ],
        groups: vec![status("billing", NOW, "WARN", 300, None), status("audit", NOW, "NOTFOUND", 0, Some(1.5))],
        ..tick("local", NOW)
    };
    store.write_tick(&t).await.expect("write");
    store.write_tick(&full_tick("other-cluster", "billing", NOW + 10_000)).await.expect("write other");

    assert_eq!(store.recent_partitions("local", NOW).await.expect("partitions"), t.partitions);
    assert_eq!(store.recent_group_partitions("local", NOW).await.expect("gps"), t.group_partitions);
    let mut groups = t.groups.clone();
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    assert_eq!(store.last_group_statuses("local").await.expect("statuses"), groups);
    assert!(store.recent_partitions("local", NOW + 1).await.expect("later").is_empty(), "since is inclusive");
}

#[tokio::test]
async fn recent_reads_are_ordered_by_time_and_last_statuses_take_the_newest_row() {
    let store = Store::open_in_memory().await.expect("open");
    for ts in [NOW, NOW + 20_000, NOW + 10_000] {
        store.write_tick(&full_tick("local", "a", ts)).await.expect("write");
    }
    store.write_tick(&full_tick("local", "b", NOW)).await.expect("write b");
    let times: Vec<i64> =
        store.recent_group_partitions("local", NOW + 10_000).await.expect("gps").iter().map(|s| s.ts_ms).collect();
    assert_eq!(times, [NOW + 10_000, NOW + 20_000]);
    let times: Vec<i64> = store.recent_partitions("local", 0).await.expect("p").iter().map(|s| s.ts_ms).collect();
    assert_eq!(times, [NOW, NOW + 10_000, NOW + 20_000], "b's sample of orders/0 at NOW replaced a's");
    let last: Vec<(String, i64)> =
        store.last_group_statuses("local").await.expect("last").into_iter().map(|g| (g.group_id, g.ts_ms)).collect();
    assert_eq!(last, [("a".to_owned(), NOW + 20_000), ("b".to_owned(), NOW)]);
    assert!(store.last_group_statuses("nowhere").await.expect("empty").is_empty());
}

#[tokio::test]
async fn rollups_update_the_open_window_and_keep_last_with_a_late_sample() {
    let store = Store::open_in_memory().await.expect("open");
    let window = NOW; // minute- and hour-aligned
    let lags = [(10_000, 100, "OK", Some(1.0)), (20_000, 300, "WARN", Some(3.0)), (30_000, 200, "OK", None)];
    for (offset, lag, s, secs) in lags {
        let ts = window + offset;
        let t = Tick {
            partitions: vec![partition("orders", 0, ts, offset, 1000 + offset)],
            groups: vec![status("g", ts, s, lag, secs)],
            ..tick("local", ts)
        };
        store.write_tick(&t).await.expect("write");
    }
    let expected: GroupWindow = (3, 300, 200, Some(3.0), None, "WARN".into());
    assert_eq!(group_window(&store, "group_rollups_1m", "g", window).await, Some(expected.clone()));
    assert_eq!(group_window(&store, "group_rollups_1h", "g", window).await, Some(expected));
    assert_eq!(partition_window(&store, "partition_rollups_1m", window).await, Some((3, 11_000, 31_000, 30_000)));

    // A late sample (taken before the newest one, written in a later tick) updates max, worst
    // and first, never last.
    let late_ts = window + 5_000;
    let late = Tick {
        partitions: vec![partition("orders", 0, late_ts, 1, 900)],
        groups: vec![status("g", late_ts, "ERR", 900, Some(9.0))],
        ..tick("local", window + 40_000)
    };
    store.write_tick(&late).await.expect("late write");
    let expected: GroupWindow = (4, 900, 200, Some(9.0), None, "ERR".into());
    assert_eq!(group_window(&store, "group_rollups_1m", "g", window).await, Some(expected));
    assert_eq!(partition_window(&store, "partition_rollups_1m", window).await, Some((4, 900, 31_000, 30_000)));
    assert_eq!(count(&store, "group_rollups_1m").await, 1, "no duplicate window");
    assert_eq!(count(&store, "partition_rollups_1h").await, 1, "no duplicate window");
    assert_eq!(count(&store, "group_statuses").await, 4);
}

#[tokio::test]
async fn worst_status_orders_notfound_ok_warn_err() {
    async fn check(statuses: &[&str], expected: &str) {
        let store = Store::open_in_memory().await.expect("open");
        for (i, s) in (0_i64..).zip(statuses) {
            let ts = NOW + i * 1000;
            let t = Tick { groups: vec![status("g", ts, s, 0, None)], ..tick("local", ts) };
            store.write_tick(&t).await.expect("write");
        }
        let window = group_window(&store, "group_rollups_1m", "g", NOW).await.expect("window");
        assert_eq!(window.5, expected, "{statuses:?}");
    }
    check(&["NOTFOUND", "OK"], "OK").await;
    check(&["OK", "NOTFOUND"], "OK").await;
    check(&["WARN", "OK", "NOTFOUND"], "WARN").await;
    check(&["OK", "ERR", "WARN"], "ERR").await;
    check(&["NOTFOUND"], "NOTFOUND").await;
}

#[test]
fn grace_accepts_two_windows_back_and_no_further() {
    fn check(tick_ts: i64, sample_ts: i64, expected: Option<i64>) {
        assert_eq!(MINUTE.accepts(tick_ts, sample_ts), expected, "tick {tick_ts}, sample {sample_ts}");
    }
    check(NOW + 30_000, NOW + 1, Some(NOW));
    check(NOW + 30_000, NOW - 1, Some(NOW - MIN));
    check(NOW + 30_000, NOW - 2 * MIN, Some(NOW - 2 * MIN));
    check(NOW + 30_000, NOW - 2 * MIN - 1, None);
    check(NOW, NOW + 5 * MIN, Some(NOW + 5 * MIN));
    check(-1, -1, Some(-MIN));
    assert_eq!(HOUR.accepts(NOW, NOW - 2 * HOUR_MS), Some(NOW - 2 * HOUR_MS));
    assert_eq!(HOUR.accepts(NOW, NOW - 2 * HOUR_MS - 1), None);
}

#[tokio::test]
async fn a_sample_beyond_grace_reaches_only_the_raw_tables() {
    let store = Store::open_in_memory().await.expect("open");
    let old = NOW - 3 * MIN; // three windows back of NOW's minute, well inside the hour grace
    let t = Tick {
        partitions: vec![partition("orders", 0, old, 0, 1)],
        groups: vec![status("g", old, "OK", 1, None)],
        ..tick("local", NOW)
    };
    store.write_tick(&t).await.expect("write");
    assert_eq!(count(&store, "partition_samples").await, 1);
    assert_eq!(count(&store, "group_statuses").await, 1);
    assert_eq!(count(&store, "group_rollups_1m").await, 0);
    assert_eq!(count(&store, "partition_rollups_1m").await, 0);
    assert!(group_window(&store, "group_rollups_1h", "g", HOUR.window_start(old)).await.is_some());

    let ancient = NOW - 3 * HOUR_MS;
    let t = Tick { groups: vec![status("g", ancient, "OK", 1, None)], ..tick("local", NOW) };
    store.write_tick(&t).await.expect("write");
    assert_eq!(count(&store, "group_statuses").await, 2);
    assert_eq!(count(&store, "group_rollups_1h").await, 1, "beyond the 1h grace too");
}

#[tokio::test]
async fn retention_deletes_exactly_what_is_older_than_each_horizon() {
    let store = Store::open_in_memory().await.expect("open");
    let times = [NOW - 90 * DAY - 1, NOW - 90 * DAY, NOW - 7 * DAY - 1, NOW - 7 * DAY, NOW - DAY - 1, NOW - DAY, NOW];
    for cluster in ["local", "remote"] {
        for group in ["a", "b"] {
            for ts in times {
                store.write_tick(&full_tick(cluster, group, ts)).await.expect("write");
            }
        }
    }
    // 2 clusters x 2 groups x 7 ticks. Both groups' ticks sample the same partition at the same
    // times: the second raw row replaces the first, and each partition window holds two samples.
    assert_eq!(count(&store, "partition_samples").await, 2 * 7);
    let pruned = store.apply_retention(NOW, Duration::from_millis(DAY as u64)).await.expect("retention");
    let expected = Pruned {
        partition_samples: 2 * 5,
        group_partition_samples: 2 * 2 * 5,
        group_statuses: 2 * 2 * 5,
        latest_group_statuses: 0,
        group_rollups_1m: 2 * 2 * 3,
        group_rollups_1h: 2 * 2,
        partition_rollups_1m: 2 * 3,
        partition_rollups_1h: 2,
        replication_history: 0,
    };
    assert_eq!(pruned, expected);
    assert_eq!(count(&store, "group_statuses").await, 2 * 2 * 2);
    assert_eq!(count(&store, "group_rollups_1m").await, 2 * 2 * 4);
    assert_eq!(count(&store, "group_rollups_1h").await, 2 * 2 * 6);
    assert_eq!(count(&store, "partition_rollups_1m").await, 2 * 4);
    assert_eq!(count(&store, "partition_rollups_1h").await, 2 * 6);
    let oldest_raw = store.recent_group_partitions("remote", 0).await.expect("raw");
    assert_eq!(oldest_raw.first().map(|s| s.ts_ms), Some(NOW - DAY));

    let again = store.apply_retention(NOW, Duration::from_millis(DAY as u64)).await.expect("retention");
    assert_eq!(again.total(), 0);

    // Half a minute later the 7-day horizon falls inside the window starting at NOW - 7d: that
    // window still holds samples newer than the horizon, so it stays; the raw rows at NOW - 1d go.
    let later = store.apply_retention(NOW + 30_000, Duration::from_millis(DAY as u64)).await.expect("retention");
    let expected = Pruned { partition_samples: 2, group_partition_samples: 4, group_statuses: 4, ..Pruned::default() };
    assert_eq!(later, expected);
}

#[tokio::test]
async fn latest_statuses_go_with_the_raw_horizon() {
    let store = Store::open_in_memory().await.expect("open");
    store.write_tick(&full_tick("local", "gone", NOW - DAY - 1)).await.expect("old");
    store.write_tick(&full_tick("local", "live", NOW - DAY)).await.expect("live");
    let names = |statuses: Vec<GroupStatusSample>| statuses.into_iter().map(|g| g.group_id).collect::<Vec<_>>();
    assert_eq!(names(store.last_group_statuses("local").await.expect("before")), ["gone", "live"]);
    let pruned = store.apply_retention(NOW, Duration::from_millis(DAY as u64)).await.expect("retention");
    assert_eq!((pruned.group_statuses, pruned.latest_group_statuses), (1, 1));
    assert_eq!(names(store.last_group_statuses("local").await.expect("after")), ["live"]);
}

#[tokio::test]
async fn history_picks_the_resolution_for_each_range_and_returns_ascending_points() {
    let store = Store::open_in_memory().await.expect("open");
    let old = NOW - 10 * DAY; // in the 30d range only
    store.write_tick(&full_tick("local", "g", old)).await.expect("old");
    let start = NOW - 2 * HOUR_MS;
    for i in 0..=(2 * 360) {
        let ts = start + i * 10_000;
        let s = if i == 700 { "ERR" } else { "OK" };
        let t = Tick {
            partitions: vec![partition("orders", 0, ts, 0, i)],
            groups: vec![status("g", ts, s, i, Some(i as f64))],
            ..tick("local", ts)
        };
        store.write_tick(&t).await.expect("write");
    }
    async fn times(store: &Store, range: HistoryRange) -> Vec<i64> {
        let points = store.group_history("local", "g", range, NOW).await.expect("history");
        points.iter().map(|p| p.ts_ms).collect()
    }
    let raw = times(&store, HistoryRange::Hour).await;
    assert_eq!(raw, (0..=360).map(|i| NOW - HOUR_MS + i * 10_000).collect::<Vec<_>>());
    let minutes = times(&store, HistoryRange::Day).await;
    assert_eq!(minutes, (0..=120).map(|i| start + i * MIN).collect::<Vec<_>>());
    let hours = times(&store, HistoryRange::Week).await;
    assert_eq!(hours, [start, start + HOUR_MS, NOW]);
    let month = times(&store, HistoryRange::Month).await;
    assert_eq!(month, [HOUR.window_start(old), start, start + HOUR_MS, NOW]);

    // A window point carries its newest values and its worst status.
    let day = store.group_history("local", "g", HistoryRange::Day, NOW).await.expect("day");
    let minute = day.iter().find(|p| p.ts_ms == start + 116 * MIN).expect("minute 116");
    assert_eq!((minute.total_lag, minute.max_lag_seconds, minute.status.as_str()), (701, Some(701.0), "ERR"));
    let week = store.group_history("local", "g", HistoryRange::Week, NOW).await.expect("week");
    assert_eq!((week[0].total_lag, week[0].status.as_str()), (359, "OK"));

    let partition_times = |points: Vec<PartitionPoint>| points.iter().map(|p| p.ts_ms).collect::<Vec<_>>();
    let hour = store.partition_history("local", "orders", 0, HistoryRange::Hour, NOW).await.expect("p 1h");
    assert_eq!(partition_times(hour), (0..=60).map(|i| NOW - HOUR_MS + i * MIN).collect::<Vec<_>>());
    let week = store.partition_history("local", "orders", 0, HistoryRange::Week, NOW).await.expect("p 7d");
    assert_eq!(week[0], PartitionPoint { ts_ms: start, high_watermark: 359, log_start_offset: 0 });
    assert_eq!(partition_times(week), [start, start + HOUR_MS, NOW]);
    assert!(store.partition_history("local", "orders", 1, HistoryRange::Day, NOW).await.expect("none").is_empty());
}

#[test]
fn history_range_parses_the_api_spellings_and_names_a_bad_one() {
    fn check(input: &str, expected: Result<HistoryRange, &str>) {
        let parsed: Result<HistoryRange, ParseHistoryRangeError> = input.parse();
        match (parsed, expected) {
            (Ok(range), Ok(want)) => assert_eq!(range, want, "{input}"),
            (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{input}: {e}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }
    check("1h", Ok(HistoryRange::Hour));
    check("24h", Ok(HistoryRange::Day));
    check("7d", Ok(HistoryRange::Week));
    check("30d", Ok(HistoryRange::Month));
    check("5y", Err("\"5y\""));
    check("1H", Err("\"1H\""));
    check("", Err("\"\""));
    for range in HistoryRange::ALL {
        assert_eq!(range.to_string().parse::<HistoryRange>(), Ok(range));
    }
}

#[tokio::test]
async fn statuses_the_enums_do_not_know_are_refused_by_the_schema_and_on_reading() {
    let store = Store::open_in_memory().await.expect("open");
    let insert = "INSERT INTO group_statuses (cluster, group_id, ts_ms, status, total_lag, max_lag, \
                  max_lag_seconds, partitions, members, complete) VALUES ('local', 'g', 1, ?, 0, 0, NULL, 0, 0, 1)";
    assert!(sqlx::query(insert).bind("BAD").execute(&store.pool).await.is_err(), "CHECK constraint");
    assert!(sqlx::query(insert).bind("WARN").execute(&store.pool).await.is_ok());
    assert_eq!(decode_status("ERR".into(), GroupState::parse).expect("known"), GroupState::Err);
    let err = decode_status("STALL".into(), GroupState::parse).expect_err("a partition status");
    assert!(err.to_string().contains("unknown status \"STALL\""), "{err}");
}

#[tokio::test]
async fn sql_in_names_is_stored_as_data() {
    let store = Store::open_in_memory().await.expect("open");
    let evil = "x'); DROP TABLE group_statuses; --";
    let cluster = "c\"; DELETE FROM partition_samples; --";
    for ts in [NOW, NOW + 10_000] {
        let t = Tick {
            partitions: vec![partition(evil, 0, ts, 0, 1)],
            group_partitions: vec![group_partition(evil, evil, 0, ts, 1)],
            groups: vec![status(evil, ts, "OK", 1, None)],
            ..tick(cluster, ts)
        };
        store.write_tick(&t).await.expect("write");
    }
    assert_eq!(store.last_group_statuses(cluster).await.expect("last")[0].group_id, evil);
    assert_eq!(store.recent_group_partitions(cluster, 0).await.expect("gps")[0].topic, evil);
    assert_eq!(store.recent_partitions(cluster, 0).await.expect("p").len(), 2);
    assert_eq!(store.group_history(cluster, evil, HistoryRange::Hour, NOW + 10_000).await.expect("h").len(), 2);
    assert_eq!(store.partition_history(cluster, evil, 0, HistoryRange::Day, NOW).await.expect("p").len(), 1);
    assert_eq!(count(&store, "group_statuses").await, 2);
    let pruned = store.apply_retention(NOW + DAY + 10_000, Duration::from_millis(DAY as u64)).await.expect("prune");
    assert_eq!(pruned.group_statuses, 1);
}

#[tokio::test]
async fn size_grows_with_data() {
    let store = Store::open_in_memory().await.expect("open");
    let empty = store.size_bytes().await.expect("size");
    let t = Tick { partitions: (0..2000).map(|p| partition("orders", p, NOW, 0, 1)).collect(), ..tick("local", NOW) };
    store.write_tick(&t).await.expect("write");
    assert!(store.size_bytes().await.expect("size") > empty + 2000 * 10);
}

#[tokio::test]
async fn replication_history_reads_changes_with_the_state_at_the_start_and_survives_retention() {
    let store = Store::open_in_memory().await.expect("open");
    let replication = |partition, ts_ms, isr| ReplicationSample {
        topic: "orders".into(),
        partition,
        ts_ms,
        leader: if isr == 0 { -1 } else { 1 },
        replicas: 3,
        isr,
    };
    let day = 86_400_000;
    let writes = [
        (NOW - 30 * day, vec![replication(0, NOW - 30 * day, 3), replication(1, NOW - 30 * day, 3)]),
        (NOW - 2 * 3_600_000, vec![replication(0, NOW - 2 * 3_600_000, 2)]),
        (NOW - 3_600_000, vec![replication(0, NOW - 3_600_000, 3), replication(1, NOW - 3_600_000, 0)]),
    ];
    for (ts, rows) in writes {
        let liveness = vec![LivenessSample { broker: 3, ts_ms: ts, up: rows.len() == 1 }];
        store.write_tick(&Tick { replication: rows, liveness, ..tick("local", ts) }).await.expect("write");
    }
    let since = NOW - day;
    let history = store.replication_history("local", "orders", since).await.expect("read");
    let got: Vec<(i32, i64, i32)> = history.iter().map(|r| (r.partition, r.ts_ms, r.isr)).collect();
    assert_eq!(
        got,
        vec![
            (0, NOW - 30 * day, 3),
            (0, NOW - 2 * 3_600_000, 2),
            (0, NOW - 3_600_000, 3),
            (1, NOW - 30 * day, 3),
            (1, NOW - 3_600_000, 0)
        ]
    );
    assert!(history[1].under_replicated() && history[4].offline() && !history[2].under_replicated());
    assert!(store.replication_history("other", "orders", since).await.expect("read").is_empty());
    let brokers = store.liveness_history("local", since).await.expect("read");
    assert_eq!(
        brokers.iter().map(|b| (b.ts_ms, b.up)).collect::<Vec<_>>(),
        vec![(NOW - 30 * day, false), (NOW - 2 * 3_600_000, true), (NOW - 3_600_000, false)]
    );

    // Retention (a 1-hour raw horizon keeps a week of this) leaves the state at the horizon.
    store.apply_retention(NOW + 10 * day, std::time::Duration::from_secs(3600)).await.expect("retention");
    let after = store.replication_history("local", "orders", NOW + 3 * day).await.expect("read");
    assert_eq!(after.iter().map(|r| (r.partition, r.isr)).collect::<Vec<_>>(), vec![(0, 3), (1, 0)]);
    assert_eq!(count(&store, "partition_replication").await, 2);
    assert_eq!(count(&store, "broker_liveness").await, 1);
}
