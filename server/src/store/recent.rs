//! Reads for a restarted sampler and evaluator: the raw samples of the last few ticks (to refill
//! Burrow's sliding windows) and each group's newest status. These read the raw tables only,
//! through their primary keys: `(cluster, ts_ms, ..)` for the time-ordered replays, and a
//! skip-scan over `(cluster, group_id, ts_ms)` for the newest status per group.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::error::query_error;
use super::sample::{GroupPartitionSample, GroupStatusSample, PartitionSample};
use super::{Store, StoreError};

pub(super) const RECENT_PARTITIONS_SQL: &str =
    "SELECT topic, partition, ts_ms, log_start_offset, high_watermark FROM partition_samples \
     WHERE cluster = ?1 AND ts_ms >= ?2 ORDER BY ts_ms, topic, partition";

pub(super) const RECENT_GROUP_PARTITIONS_SQL: &str =
    "SELECT group_id, topic, partition, ts_ms, committed_offset, commit_ts_ms, high_watermark, lag, \
            lag_seconds, status, owner, client_id \
     FROM group_partition_samples WHERE cluster = ?1 AND ts_ms >= ?2 ORDER BY ts_ms, group_id, topic, partition";

/// Walks the distinct group ids of a cluster one index seek at a time (a `SELECT DISTINCT` would
/// read every row), then takes each group's newest row with two more seeks. `CROSS JOIN` pins
/// the walk as the outer loop: left to itself the planner reads every row of the cluster once
/// per group. The walk yields ids in ascending order; the caller sorts anyway rather than rely on it.
pub(super) const LAST_GROUP_STATUSES_SQL: &str = "WITH RECURSIVE ids(group_id) AS ( \
         SELECT min(group_id) FROM group_statuses WHERE cluster = ?1 \
         UNION ALL \
         SELECT (SELECT min(g.group_id) FROM group_statuses g WHERE g.cluster = ?1 AND g.group_id > ids.group_id) \
         FROM ids WHERE ids.group_id IS NOT NULL \
     ) \
     SELECT s.group_id, s.ts_ms, s.status, s.total_lag, s.max_lag, s.max_lag_seconds, s.partitions, s.members, \
            s.complete \
     FROM ids CROSS JOIN group_statuses s \
     WHERE s.cluster = ?1 AND s.group_id = ids.group_id \
         AND s.ts_ms = (SELECT max(m.ts_ms) FROM group_statuses m WHERE m.cluster = ?1 AND m.group_id = ids.group_id)";

impl Store {
    /// Raw partition samples of `cluster` with `ts_ms >= since_ms`, oldest first.
    pub async fn recent_partitions(&self, cluster: &str, since_ms: i64) -> Result<Vec<PartitionSample>, StoreError> {
        let rows = sqlx::query(RECENT_PARTITIONS_SQL)
            .bind(cluster)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading recent partition samples"))?;
        rows.iter()
            .map(|row| {
                Ok(PartitionSample {
                    topic: row.try_get(0)?,
                    partition: row.try_get(1)?,
                    ts_ms: row.try_get(2)?,
                    log_start_offset: row.try_get(3)?,
                    high_watermark: row.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("decoding recent partition samples"))
    }

    /// Raw group-partition samples of `cluster` with `ts_ms >= since_ms`, oldest first.
    pub async fn recent_group_partitions(
        &self,
        cluster: &str,
        since_ms: i64,
    ) -> Result<Vec<GroupPartitionSample>, StoreError> {
        let rows = sqlx::query(RECENT_GROUP_PARTITIONS_SQL)
            .bind(cluster)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading recent group-partition samples"))?;
        rows.iter()
            .map(group_partition_from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("decoding recent group-partition samples"))
    }

    /// The newest stored status of every group of `cluster` (expired groups included), by group id.
    pub async fn last_group_statuses(&self, cluster: &str) -> Result<Vec<GroupStatusSample>, StoreError> {
        let rows = sqlx::query(LAST_GROUP_STATUSES_SQL)
            .bind(cluster)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading the newest group statuses"))?;
        let mut statuses = rows
            .iter()
            .map(|row| {
                Ok(GroupStatusSample {
                    group_id: row.try_get(0)?,
                    ts_ms: row.try_get(1)?,
                    status: row.try_get(2)?,
                    total_lag: row.try_get(3)?,
                    max_lag: row.try_get(4)?,
                    max_lag_seconds: row.try_get(5)?,
                    partitions: row.try_get(6)?,
                    members: row.try_get(7)?,
                    complete: row.try_get(8)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(query_error("decoding the newest group statuses"))?;
        statuses.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(statuses)
    }
}

fn group_partition_from_row(row: &SqliteRow) -> Result<GroupPartitionSample, sqlx::Error> {
    Ok(GroupPartitionSample {
        group_id: row.try_get(0)?,
        topic: row.try_get(1)?,
        partition: row.try_get(2)?,
        ts_ms: row.try_get(3)?,
        committed_offset: row.try_get(4)?,
        commit_ts_ms: row.try_get(5)?,
        high_watermark: row.try_get(6)?,
        lag: row.try_get(7)?,
        lag_seconds: row.try_get(8)?,
        status: row.try_get(9)?,
        owner: row.try_get(10)?,
        client_id: row.try_get(11)?,
    })
}
