//! The write path: one sampler tick becomes one `BEGIN IMMEDIATE` transaction holding its raw
//! rows and the rollup upserts they cause, so readers see a tick whole or not at all. Rows go in
//! as multi-row `INSERT`s of `CHUNK_ROWS` rows whose SQL text is fixed, so sqlx prepares each
//! statement once per connection and reuses it; only the last, shorter chunk of each kind is
//! prepared afresh (and not cached). Every value is a bound parameter.

use sqlx::sqlite::{SqliteArguments, SqliteConnection};
use sqlx::Sqlite;

use super::error::query_error;
use super::rollup::{Rollup, GROUP_COLUMNS, GROUP_MERGE, PARTITION_COLUMNS, PARTITION_MERGE, ROLLUPS};
use super::sample::{GroupPartitionSample, GroupStatusSample, PartitionSample, Tick};
use super::{LivenessSample, ReplicationSample};
use super::{Store, StoreError};

/// Rows per multi-row statement (at most 13 columns: far below SQLite's 32,766 parameters).
/// Measured on the 21,000-sample benchmark tick: 32 rows 155 ms, 256 rows 99 ms, 1,024 rows 95 ms.
const CHUNK_ROWS: usize = 256;

/// A raw sample sent again (same series, same `ts_ms`) replaces the stored one rather than
/// failing the whole tick. Rollups count every sample written, so a resent one counts twice in
/// `samples`; its values are the same, so max, first and last are unaffected.
const RAW_VERB: &str = "INSERT OR REPLACE INTO";

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

pub(super) const PARTITION_SAMPLE_COLUMNS: &[&str] =
    &["cluster", "ts_ms", "topic", "partition", "log_start_offset", "high_watermark"];

pub(super) const GROUP_PARTITION_COLUMNS: &[&str] = &[
    "cluster",
    "ts_ms",
    "group_id",
    "topic",
    "partition",
    "committed_offset",
    "commit_ts_ms",
    "high_watermark",
    "lag",
    "lag_seconds",
    "status",
    "owner",
    "client_id",
];

const REPLICATION_COLUMNS: &[&str] = &["cluster", "topic", "partition", "ts_ms", "leader", "replicas", "isr"];

const LIVENESS_COLUMNS: &[&str] = &["cluster", "broker", "ts_ms", "up"];

pub(super) const GROUP_STATUS_COLUMNS: &[&str] = &[
    "cluster",
    "group_id",
    "ts_ms",
    "status",
    "total_lag",
    "max_lag",
    "max_lag_seconds",
    "partitions",
    "members",
    "complete",
];

/// Keeps the newer of the stored and the inserted status (ties: the one written last).
const LATEST_MERGE: &str = "ON CONFLICT (cluster, group_id) DO UPDATE SET
    ts_ms = excluded.ts_ms, status = excluded.status, total_lag = excluded.total_lag,
    max_lag = excluded.max_lag, max_lag_seconds = excluded.max_lag_seconds,
    partitions = excluded.partitions, members = excluded.members, complete = excluded.complete
    WHERE excluded.ts_ms >= ts_ms";

/// One multi-row statement shape: `{verb} table (columns) VALUES (?, ..), .. tail`.
struct Insert<'s> {
    verb: &'s str,
    table: &'s str,
    columns: &'s [&'s str],
    tail: &'s str,
}

impl Insert<'_> {
    fn sql(&self, rows: usize) -> String {
        let row = format!("({})", vec!["?"; self.columns.len()].join(", "));
        let values = vec![row.as_str(); rows].join(", ");
        format!("{} {} ({}) VALUES {} {}", self.verb, self.table, self.columns.join(", "), values, self.tail)
    }

    /// Inserts `rows`, `CHUNK_ROWS` per statement, `bind` binding one row's columns in order.
    async fn run<T>(
        &self,
        conn: &mut SqliteConnection,
        cluster: &str,
        rows: &[T],
        bind: impl for<'a> Fn(SqliteQuery<'a>, &'a str, &'a T) -> SqliteQuery<'a>,
    ) -> Result<(), sqlx::Error> {
        let full = self.sql(CHUNK_ROWS);
        for chunk in rows.chunks(CHUNK_ROWS) {
            let short;
            let sql = if chunk.len() == CHUNK_ROWS {
                full.as_str()
            } else {
                short = self.sql(chunk.len());
                short.as_str()
            };
            let query = chunk.iter().fold(sqlx::query(sql), |q, row| bind(q, cluster, row));
            // Only the full-chunk text recurs tick after tick; don't fill the cache with the rest.
            query.persistent(chunk.len() == CHUNK_ROWS).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Writes everything in `tick` (all rows under `tick.cluster`) and folds its samples into the
    /// rollups, in one transaction.
    pub async fn write_tick(&self, tick: &Tick) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(query_error("starting a tick"))?;
        write_rows(&mut tx, tick).await.map_err(query_error("writing a tick"))?;
        tx.commit().await.map_err(query_error("committing a tick"))
    }
}

async fn write_rows(conn: &mut SqliteConnection, tick: &Tick) -> Result<(), sqlx::Error> {
    let cluster = tick.cluster.as_str();
    let raw = |table, columns| Insert { verb: RAW_VERB, table, columns, tail: "" };
    raw("partition_samples", PARTITION_SAMPLE_COLUMNS)
        .run(conn, cluster, &tick.partitions, bind_partition_sample)
        .await?;
    raw("group_partition_samples", GROUP_PARTITION_COLUMNS)
        .run(conn, cluster, &tick.group_partitions, bind_group_partition)
        .await?;
    raw("group_statuses", GROUP_STATUS_COLUMNS).run(conn, cluster, &tick.groups, bind_group_status).await?;
    let latest = Insert {
        verb: "INSERT INTO",
        table: "latest_group_statuses",
        columns: GROUP_STATUS_COLUMNS,
        tail: LATEST_MERGE,
    };
    latest.run(conn, cluster, &tick.groups, bind_group_status).await?;
    raw("partition_replication", REPLICATION_COLUMNS).run(conn, cluster, &tick.replication, bind_replication).await?;
    raw("broker_liveness", LIVENESS_COLUMNS).run(conn, cluster, &tick.liveness, bind_liveness).await?;

    for rollup in ROLLUPS {
        let partitions = in_grace(&rollup, tick.ts_ms, &tick.partitions, |s| s.ts_ms);
        let upsert = Insert {
            verb: "INSERT INTO",
            table: rollup.partition_table,
            columns: PARTITION_COLUMNS,
            tail: PARTITION_MERGE,
        };
        upsert.run(conn, cluster, &partitions, bind_partition_rollup).await?;
        let groups = in_grace(&rollup, tick.ts_ms, &tick.groups, |g| g.ts_ms);
        let upsert =
            Insert { verb: "INSERT INTO", table: rollup.group_table, columns: GROUP_COLUMNS, tail: &GROUP_MERGE };
        upsert.run(conn, cluster, &groups, bind_group_rollup).await?;
    }
    Ok(())
}

/// The samples `rollup` still accepts at tick time, each with its window start.
fn in_grace<'t, T>(rollup: &Rollup, tick_ts_ms: i64, samples: &'t [T], ts_ms: impl Fn(&T) -> i64) -> Vec<(i64, &'t T)> {
    samples.iter().filter_map(|s| rollup.accepts(tick_ts_ms, ts_ms(s)).map(|window| (window, s))).collect()
}

fn bind_partition_sample<'a>(q: SqliteQuery<'a>, cluster: &'a str, s: &'a PartitionSample) -> SqliteQuery<'a> {
    q.bind(cluster)
        .bind(s.ts_ms)
        .bind(s.topic.as_str())
        .bind(s.partition)
        .bind(s.log_start_offset)
        .bind(s.high_watermark)
}

fn bind_replication<'a>(q: SqliteQuery<'a>, cluster: &'a str, r: &'a ReplicationSample) -> SqliteQuery<'a> {
    q.bind(cluster).bind(r.topic.as_str()).bind(r.partition).bind(r.ts_ms).bind(r.leader).bind(r.replicas).bind(r.isr)
}

fn bind_liveness<'a>(q: SqliteQuery<'a>, cluster: &'a str, l: &'a LivenessSample) -> SqliteQuery<'a> {
    q.bind(cluster).bind(l.broker).bind(l.ts_ms).bind(l.up)
}

fn bind_group_partition<'a>(q: SqliteQuery<'a>, cluster: &'a str, s: &'a GroupPartitionSample) -> SqliteQuery<'a> {
    q.bind(cluster)
        .bind(s.ts_ms)
        .bind(s.group_id.as_str())
        .bind(s.topic.as_str())
        .bind(s.partition)
        .bind(s.committed_offset)
        .bind(s.commit_ts_ms)
        .bind(s.high_watermark)
        .bind(s.lag)
        .bind(s.lag_seconds)
        .bind(s.status.as_str())
        .bind(s.owner.as_deref())
        .bind(s.client_id.as_deref())
}

fn bind_group_status<'a>(q: SqliteQuery<'a>, cluster: &'a str, g: &'a GroupStatusSample) -> SqliteQuery<'a> {
    q.bind(cluster)
        .bind(g.group_id.as_str())
        .bind(g.ts_ms)
        .bind(g.status.as_str())
        .bind(g.total_lag)
        .bind(g.max_lag)
        .bind(g.max_lag_seconds)
        .bind(g.partitions)
        .bind(g.members)
        .bind(g.complete)
}

/// One sample as a one-sample window: first = last = the sample (see `PARTITION_COLUMNS`).
fn bind_partition_rollup<'a>(
    q: SqliteQuery<'a>,
    cluster: &'a str,
    (window_start_ms, s): &'a (i64, &PartitionSample),
) -> SqliteQuery<'a> {
    q.bind(cluster)
        .bind(s.topic.as_str())
        .bind(s.partition)
        .bind(*window_start_ms)
        .bind(1_i64)
        .bind(s.high_watermark)
        .bind(s.high_watermark)
        .bind(s.log_start_offset)
        .bind(s.ts_ms)
        .bind(s.ts_ms)
}

/// One status as a one-sample window: max = last = the sample (see `GROUP_COLUMNS`).
fn bind_group_rollup<'a>(
    q: SqliteQuery<'a>,
    cluster: &'a str,
    (window_start_ms, g): &'a (i64, &GroupStatusSample),
) -> SqliteQuery<'a> {
    q.bind(cluster)
        .bind(g.group_id.as_str())
        .bind(*window_start_ms)
        .bind(1_i64)
        .bind(g.total_lag)
        .bind(g.total_lag)
        .bind(g.max_lag_seconds)
        .bind(g.max_lag_seconds)
        .bind(g.status.as_str())
        .bind(g.ts_ms)
}
