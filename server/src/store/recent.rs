//! Reads for a restarted sampler and evaluator: the raw samples of the last few ticks (to refill
//! Burrow's sliding windows) and each group's newest status, all as range reads of a primary
//! key: `(cluster, ts_ms, ..)` for the time-ordered replays, `(cluster, group_id)` of
//! `latest_group_statuses` for the newest status per group.

use crate::evaluator::{GroupState, PartitionState};
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

pub(super) const LAST_GROUP_STATUSES_SQL: &str =
    "SELECT group_id, ts_ms, status, total_lag, max_lag, max_lag_seconds, partitions, members, complete \
     FROM latest_group_statuses WHERE cluster = ?1 ORDER BY group_id";

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

    /// The newest stored status of every group of `cluster`, by group id: groups that stopped
    /// being sampled stay until raw retention passes their last status.
    pub async fn last_group_statuses(&self, cluster: &str) -> Result<Vec<GroupStatusSample>, StoreError> {
        let rows = sqlx::query(LAST_GROUP_STATUSES_SQL)
            .bind(cluster)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading the newest group statuses"))?;
        rows.iter()
            .map(|row| {
                Ok(GroupStatusSample {
                    group_id: row.try_get(0)?,
                    ts_ms: row.try_get(1)?,
                    status: super::decode_status(row.try_get(2)?, GroupState::parse)?,
                    total_lag: row.try_get(3)?,
                    max_lag: row.try_get(4)?,
                    max_lag_seconds: row.try_get(5)?,
                    partitions: row.try_get(6)?,
                    members: row.try_get(7)?,
                    complete: row.try_get(8)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("decoding the newest group statuses"))
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
        status: super::decode_status(row.try_get(9)?, PartitionState::parse)?,
        owner: row.try_get(10)?,
        client_id: row.try_get(11)?,
    })
}
