//! Retention: raw rows older than `raw_retention`, 1-minute windows older than 7 days and 1-hour
//! windows older than 90 days are deleted. A row goes when everything it summarizes is older
//! than its horizon: a raw row when `ts_ms < now - retention`, a window when its last
//! millisecond is (`window_start_ms + width - 1 < now - keep`). Every big table is keyed by
//! `(cluster, time, ..)`, so each cluster's old rows are one contiguous range: the clusters are
//! walked by index seeks and each range deleted. `latest_group_statuses` (one row per group) goes
//! with the raw horizon. One transaction per table keeps the sampler's waits for the lock short.

use std::time::Duration;

use serde::Serialize;
use sqlx::sqlite::SqliteConnection;
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
    pub latest_group_statuses: u64,
    pub group_rollups_1m: u64,
    pub group_rollups_1h: u64,
    pub partition_rollups_1m: u64,
    pub partition_rollups_1h: u64,
    pub replication_history: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.partition_samples
            + self.group_partition_samples
            + self.group_statuses
            + self.latest_group_statuses
            + self.group_rollups_1m
            + self.group_rollups_1h
            + self.partition_rollups_1m
            + self.partition_rollups_1h
            + self.replication_history
    }
}

/// A table as retention sees it: its name and the time column that follows `cluster` in its key.
#[derive(Debug, Clone, Copy)]
pub(super) struct Horizon {
    pub table: &'static str,
    pub time: &'static str,
}

const PARTITION_SAMPLES: Horizon = Horizon { table: "partition_samples", time: "ts_ms" };
const GROUP_PARTITION_SAMPLES: Horizon = Horizon { table: "group_partition_samples", time: "ts_ms" };
const GROUP_STATUSES: Horizon = Horizon { table: "group_statuses", time: "ts_ms" };
/// Keyed by `(cluster, group_id)`: its delete reads the cluster's rows, one per group.
pub(super) const LATEST_GROUP_STATUSES: Horizon = Horizon { table: "latest_group_statuses", time: "ts_ms" };

fn group_rollups(rollup: &Rollup) -> Horizon {
    Horizon { table: rollup.group_table, time: "window_start_ms" }
}

fn partition_rollups(rollup: &Rollup) -> Horizon {
    Horizon { table: rollup.partition_table, time: "window_start_ms" }
}

impl Horizon {
    /// The smallest cluster name, or with `after` the smallest one greater than ?1.
    pub(super) fn next_cluster_sql(&self, after: bool) -> String {
        let filter = if after { "WHERE cluster > ?1 " } else { "" };
        format!("SELECT cluster FROM {} {filter}ORDER BY cluster LIMIT 1", self.table)
    }

    /// Deletes cluster ?1's rows whose time column is below ?2.
    pub(super) fn delete_sql(&self) -> String {
        format!("DELETE FROM {} WHERE cluster = ?1 AND {} < ?2", self.table, self.time)
    }

    /// Deletes every row whose time column is `< bound`; returns how many.
    async fn prune(&self, conn: &mut SqliteConnection, bound: i64) -> Result<u64, sqlx::Error> {
        let (first, next, delete) = (self.next_cluster_sql(false), self.next_cluster_sql(true), self.delete_sql());
        let mut deleted = 0;
        let mut cluster: Option<String> = match sqlx::query(&first).fetch_optional(&mut *conn).await? {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        };
        while let Some(current) = cluster {
            deleted += sqlx::query(&delete).bind(&current).bind(bound).execute(&mut *conn).await?.rows_affected();
            cluster = match sqlx::query(&next).bind(&current).fetch_optional(&mut *conn).await? {
                Some(row) => Some(row.try_get(0)?),
                None => None,
            };
        }
        Ok(deleted)
    }
}

/// Replication history is small (one row per change): at least a week of it is kept, whatever
/// `raw_retention` says.
const REPLICATION_KEEP: Duration = Duration::from_secs(7 * 86_400);

/// `now - span` in ms, saturating (`now` is input).
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
            latest_group_statuses: self.prune(&LATEST_GROUP_STATUSES, raw_bound).await?,
            group_rollups_1m: self.prune(&group_rollups(&MINUTE), rollup_bound(&MINUTE, now_ms)).await?,
            group_rollups_1h: self.prune(&group_rollups(&HOUR), rollup_bound(&HOUR, now_ms)).await?,
            partition_rollups_1m: self.prune(&partition_rollups(&MINUTE), rollup_bound(&MINUTE, now_ms)).await?,
            partition_rollups_1h: self.prune(&partition_rollups(&HOUR), rollup_bound(&HOUR, now_ms)).await?,
            replication_history: self.prune_replication(before(now_ms, raw_retention.max(REPLICATION_KEEP))).await?,
        })
    }

    async fn prune(&self, horizon: &Horizon, bound: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(query_error("starting retention"))?;
        let deleted = horizon.prune(&mut tx, bound).await.map_err(query_error("applying retention"))?;
        tx.commit().await.map_err(query_error("committing retention"))?;
        Ok(deleted)
    }
}

/// Every table retention prunes, for the query-plan test.
#[cfg(test)]
pub(super) fn all_horizons() -> Vec<Horizon> {
    let mut all = vec![PARTITION_SAMPLES, GROUP_PARTITION_SAMPLES, GROUP_STATUSES, LATEST_GROUP_STATUSES];
    for rollup in [MINUTE, HOUR] {
        all.push(group_rollups(&rollup));
        all.push(partition_rollups(&rollup));
    }
    all
}
