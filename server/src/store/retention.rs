//! Retention: raw rows older than `raw_retention`, 1-minute windows older than 7 days and 1-hour
//! windows older than 90 days are deleted. A row goes when everything it summarizes is older
//! than its horizon: a raw row when `ts_ms < now - retention`, a window when its last
//! millisecond is (`window_start_ms + width - 1 < now - keep`). The tables have no time index
//! (it would double their size), so each table is pruned one series at a time: walk the distinct
//! keys that precede the time column in the primary key by index seeks and delete each key's
//! old range. That costs two seeks per series, whatever the table's size. One transaction per
//! table keeps the sampler's write lock waits short.

use std::time::Duration;

use serde::Serialize;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use super::error::query_error;
use super::rollup::{Rollup, HOUR, MINUTE};
use super::{Store, StoreError};

/// Rows deleted by one [`Store::apply_retention`], per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub partition_samples: u64,
    pub group_partition_samples: u64,
    pub group_statuses: u64,
    pub group_rollups_1m: u64,
    pub group_rollups_1h: u64,
    pub partition_rollups_1m: u64,
    pub partition_rollups_1h: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.partition_samples
            + self.group_partition_samples
            + self.group_statuses
            + self.group_rollups_1m
            + self.group_rollups_1h
            + self.partition_rollups_1m
            + self.partition_rollups_1h
    }
}

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Text,
    Int,
}

#[derive(Debug, Clone, PartialEq)]
enum KeyValue {
    Text(String),
    Int(i64),
}

/// A table as retention sees it: the series key (primary-key prefix) and the time column after it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Series {
    table: &'static str,
    key: &'static [(&'static str, KeyKind)],
    time: &'static str,
}

const CLUSTER: &[(&str, KeyKind)] = &[("cluster", KeyKind::Text)];
const GROUP: &[(&str, KeyKind)] = &[("cluster", KeyKind::Text), ("group_id", KeyKind::Text)];
const PARTITION: &[(&str, KeyKind)] =
    &[("cluster", KeyKind::Text), ("topic", KeyKind::Text), ("partition", KeyKind::Int)];

const PARTITION_SAMPLES: Series = Series { table: "partition_samples", key: CLUSTER, time: "ts_ms" };
const GROUP_PARTITION_SAMPLES: Series = Series { table: "group_partition_samples", key: CLUSTER, time: "ts_ms" };
const GROUP_STATUSES: Series = Series { table: "group_statuses", key: GROUP, time: "ts_ms" };

fn group_rollups(rollup: &Rollup) -> Series {
    Series { table: rollup.group_table, key: GROUP, time: "window_start_ms" }
}

fn partition_rollups(rollup: &Rollup) -> Series {
    Series { table: rollup.partition_table, key: PARTITION, time: "window_start_ms" }
}

impl Series {
    fn columns(&self) -> String {
        self.key.iter().map(|(column, _)| *column).collect::<Vec<_>>().join(", ")
    }

    fn marks(&self) -> String {
        vec!["?"; self.key.len()].join(", ")
    }

    /// The smallest key, or with `after` the smallest key greater than the bound one.
    pub(super) fn next_key_sql(&self, after: bool) -> String {
        let columns = self.columns();
        let filter = if after { format!("WHERE ({columns}) > ({}) ", self.marks()) } else { String::new() };
        format!("SELECT {columns} FROM {} {filter}ORDER BY {columns} LIMIT 1", self.table)
    }

    /// Deletes one key's rows with the time column below the last bound parameter.
    pub(super) fn delete_sql(&self) -> String {
        format!("DELETE FROM {} WHERE ({}) = ({}) AND {} < ?", self.table, self.columns(), self.marks(), self.time)
    }

    fn read_key(&self, row: &SqliteRow) -> Result<Vec<KeyValue>, sqlx::Error> {
        self.key
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| match kind {
                KeyKind::Text => row.try_get(i).map(KeyValue::Text),
                KeyKind::Int => row.try_get(i).map(KeyValue::Int),
            })
            .collect()
    }

    /// Deletes every row whose time column is `< bound`; returns how many.
    async fn prune(&self, conn: &mut SqliteConnection, bound: i64) -> Result<u64, sqlx::Error> {
        let (first, next, delete) = (self.next_key_sql(false), self.next_key_sql(true), self.delete_sql());
        let mut deleted = 0;
        let mut key = match sqlx::query(&first).fetch_optional(&mut *conn).await? {
            Some(row) => Some(self.read_key(&row)?),
            None => None,
        };
        while let Some(current) = key {
            let query = bind_key(sqlx::query(&delete), &current).bind(bound);
            deleted += query.execute(&mut *conn).await?.rows_affected();
            key = match bind_key(sqlx::query(&next), &current).fetch_optional(&mut *conn).await? {
                Some(row) => Some(self.read_key(&row)?),
                None => None,
            };
        }
        Ok(deleted)
    }
}

fn bind_key<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    key: &'q [KeyValue],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    key.iter().fold(query, |q, value| match value {
        KeyValue::Text(text) => q.bind(text.as_str()),
        KeyValue::Int(int) => q.bind(*int),
    })
}

/// `now - span` in ms, saturating (a 90-day horizon never overflows real clocks, but `now` is input).
fn before(now_ms: i64, span: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(span.as_millis()).unwrap_or(i64::MAX))
}

/// The first window start to keep: windows starting below it ended before `now - keep`.
fn rollup_bound(rollup: &Rollup, now_ms: i64) -> i64 {
    before(now_ms, rollup.keep).saturating_sub(rollup.width_ms - 1)
}

impl Store {
    /// Deletes raw rows older than `raw_retention` and rollup windows past their horizon (7 days
    /// for 1-minute, 90 days for 1-hour), measured back from `now_ms`. Freed pages are reused by
    /// later ticks; the file does not shrink.
    pub async fn apply_retention(&self, now_ms: i64, raw_retention: Duration) -> Result<Pruned, StoreError> {
        let raw_bound = before(now_ms, raw_retention);
        Ok(Pruned {
            partition_samples: self.prune(&PARTITION_SAMPLES, raw_bound).await?,
            group_partition_samples: self.prune(&GROUP_PARTITION_SAMPLES, raw_bound).await?,
            group_statuses: self.prune(&GROUP_STATUSES, raw_bound).await?,
            group_rollups_1m: self.prune(&group_rollups(&MINUTE), rollup_bound(&MINUTE, now_ms)).await?,
            group_rollups_1h: self.prune(&group_rollups(&HOUR), rollup_bound(&HOUR, now_ms)).await?,
            partition_rollups_1m: self.prune(&partition_rollups(&MINUTE), rollup_bound(&MINUTE, now_ms)).await?,
            partition_rollups_1h: self.prune(&partition_rollups(&HOUR), rollup_bound(&HOUR, now_ms)).await?,
        })
    }

    async fn prune(&self, series: &Series, bound: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(query_error("starting retention"))?;
        let deleted = series.prune(&mut tx, bound).await.map_err(query_error("applying retention"))?;
        tx.commit().await.map_err(query_error("committing retention"))?;
        Ok(deleted)
    }
}

#[cfg(test)]
impl Series {
    /// (table, key columns, time column), for the query-plan test.
    pub(super) fn parts(&self) -> (&'static str, Vec<&'static str>, &'static str) {
        (self.table, self.key.iter().map(|(column, _)| *column).collect(), self.time)
    }
}

/// Every table retention walks, for the query-plan test.
#[cfg(test)]
pub(super) fn all_series() -> Vec<Series> {
    let mut all = vec![PARTITION_SAMPLES, GROUP_PARTITION_SAMPLES, GROUP_STATUSES];
    for rollup in [MINUTE, HOUR] {
        all.push(group_rollups(&rollup));
        all.push(partition_rollups(&rollup));
    }
    all
}
