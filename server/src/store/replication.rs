//! Replication health over time: partition leader, replica and in-sync counts, and broker
//! liveness, one row per change (see `migrations/0003_replication.sql`). Written inside the
//! tick's transaction (`tick.rs`); read back as each partition's state changes over a range, with the state
//! at the range's start.

use serde::Serialize;
use sqlx::Row;

use super::error::query_error;
use super::{Store, StoreError};

/// A partition's replication at one instant (stored when it differs from the previous one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationSample {
    pub topic: String,
    pub partition: i32,
    pub ts_ms: i64,
    /// -1 when no leader is in service.
    pub leader: i32,
    pub replicas: i32,
    pub isr: i32,
}

impl ReplicationSample {
    pub fn under_replicated(&self) -> bool {
        self.isr < self.replicas
    }

    pub fn offline(&self) -> bool {
        self.leader < 0
    }
}

/// A broker going up or down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LivenessSample {
    pub broker: i32,
    pub ts_ms: i64,
    pub up: bool,
}

impl Store {
    /// A topic's replication changes after `since_ms`, with each partition's state at `since_ms`
    /// (stamped with its own, earlier, time); ordered by partition, then time.
    pub async fn replication_history(
        &self,
        cluster: &str,
        topic: &str,
        since_ms: i64,
    ) -> Result<Vec<ReplicationSample>, StoreError> {
        let rows = sqlx::query(
            "SELECT partition, MAX(ts_ms) AS ts_ms, leader, replicas, isr FROM partition_replication
               WHERE cluster = ?1 AND topic = ?2 AND ts_ms <= ?3 GROUP BY partition
             UNION ALL
             SELECT partition, ts_ms, leader, replicas, isr FROM partition_replication
               WHERE cluster = ?1 AND topic = ?2 AND ts_ms > ?3
             ORDER BY partition, ts_ms",
        )
        .bind(cluster)
        .bind(topic)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading replication history"))?;
        rows.iter()
            .map(|row| {
                Ok(ReplicationSample {
                    topic: topic.to_string(),
                    partition: row.try_get("partition")?,
                    ts_ms: row.try_get("ts_ms")?,
                    leader: row.try_get("leader")?,
                    replicas: row.try_get("replicas")?,
                    isr: row.try_get("isr")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("reading replication history"))
    }

    /// Brokers' liveness changes after `since_ms`, with each broker's state at `since_ms`.
    pub async fn liveness_history(&self, cluster: &str, since_ms: i64) -> Result<Vec<LivenessSample>, StoreError> {
        let rows = sqlx::query(
            "SELECT broker, MAX(ts_ms) AS ts_ms, up FROM broker_liveness
               WHERE cluster = ?1 AND ts_ms <= ?2 GROUP BY broker
             UNION ALL
             SELECT broker, ts_ms, up FROM broker_liveness WHERE cluster = ?1 AND ts_ms > ?2
             ORDER BY broker, ts_ms",
        )
        .bind(cluster)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading broker history"))?;
        rows.iter()
            .map(|row| {
                Ok(LivenessSample {
                    broker: row.try_get("broker")?,
                    ts_ms: row.try_get("ts_ms")?,
                    up: row.try_get("up")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("reading broker history"))
    }

    /// Deletes replication and liveness rows older than `bound` except each series' newest such
    /// row (its state at the horizon). Returns the rows deleted.
    pub(super) async fn prune_replication(&self, bound: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(query_error("starting retention"))?;
        let mut deleted = 0;
        for sql in [
            "DELETE FROM partition_replication AS old WHERE ts_ms < ?1 AND EXISTS (
               SELECT 1 FROM partition_replication AS new WHERE new.cluster = old.cluster AND new.topic = old.topic
                 AND new.partition = old.partition AND new.ts_ms > old.ts_ms AND new.ts_ms <= ?1)",
            "DELETE FROM broker_liveness AS old WHERE ts_ms < ?1 AND EXISTS (
               SELECT 1 FROM broker_liveness AS new WHERE new.cluster = old.cluster AND new.broker = old.broker
                 AND new.ts_ms > old.ts_ms AND new.ts_ms <= ?1)",
        ] {
            deleted += sqlx::query(sql)
                .bind(bound)
                .execute(&mut *tx)
                .await
                .map_err(query_error("applying retention"))?
                .rows_affected();
        }
        tx.commit().await.map_err(query_error("committing retention"))?;
        Ok(deleted)
    }
}
