//! What the sampler hands the store each tick, and what the store hands back to a restarted
//! evaluator: plain data, one struct per raw table. The cluster is not repeated per sample; it
//! comes from the `Tick` (writes) or the query's argument (reads).

use serde::Serialize;

/// Partition statuses (Burrow's meanings), in the order the store accepts them.
pub const PARTITION_STATUSES: [&str; 5] = ["OK", "WARN", "STOP", "STALL", "REWIND"];

/// Group statuses (Burrow's meanings), from least to most severe; `NOTFOUND` ranks lowest.
pub const GROUP_STATUSES: [&str; 4] = ["NOTFOUND", "OK", "WARN", "ERR"];

/// Everything one sampler tick observed of one cluster; written in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    pub cluster: String,
    /// When the tick ran. Rollup grace is measured from here (see `rollup.rs`).
    pub ts_ms: i64,
    pub partitions: Vec<PartitionSample>,
    pub group_partitions: Vec<GroupPartitionSample>,
    pub groups: Vec<GroupStatusSample>,
    /// Partitions whose replication changed since the previous tick (all of them on the first).
    pub replication: Vec<super::ReplicationSample>,
    /// Brokers that went up or down since the previous tick (all of them on the first).
    pub liveness: Vec<super::LivenessSample>,
}

/// One partition's offsets at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionSample {
    pub topic: String,
    pub partition: i32,
    pub ts_ms: i64,
    pub log_start_offset: i64,
    pub high_watermark: i64,
}

/// One group's committed offset on one partition at one instant, with the evaluator's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupPartitionSample {
    pub group_id: String,
    pub topic: String,
    pub partition: i32,
    pub ts_ms: i64,
    pub committed_offset: i64,
    pub commit_ts_ms: i64,
    pub high_watermark: i64,
    /// Records behind the high watermark.
    pub lag: i64,
    /// Time behind, when the evaluator could estimate it.
    pub lag_seconds: Option<f64>,
    /// One of [`PARTITION_STATUSES`].
    pub status: String,
    /// The member owning the partition, as `member/host`, when the group has one.
    pub owner: Option<String>,
    pub client_id: Option<String>,
}

/// One group's overall status at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStatusSample {
    pub group_id: String,
    pub ts_ms: i64,
    /// One of [`GROUP_STATUSES`].
    pub status: String,
    pub total_lag: i64,
    pub max_lag: i64,
    pub max_lag_seconds: Option<f64>,
    pub partitions: i64,
    pub members: i64,
    /// Burrow's `complete`: the fraction of the evaluation window that was filled.
    pub complete: f64,
}

impl Tick {
    /// Why this tick cannot be stored, if it cannot: a status outside the known sets. The schema
    /// has the same CHECK constraints; this only makes the error say which group and value.
    pub(super) fn invalid_reason(&self) -> Option<String> {
        if let Some(s) = self.group_partitions.iter().find(|s| !PARTITION_STATUSES.contains(&s.status.as_str())) {
            return Some(format!(
                "group \"{}\" partition {}/{} has status \"{}\" (expected one of {})",
                s.group_id,
                s.topic,
                s.partition,
                s.status,
                PARTITION_STATUSES.join(", ")
            ));
        }
        if let Some(g) = self.groups.iter().find(|g| !GROUP_STATUSES.contains(&g.status.as_str())) {
            return Some(format!(
                "group \"{}\" has status \"{}\" (expected one of {})",
                g.group_id,
                g.status,
                GROUP_STATUSES.join(", ")
            ));
        }
        None
    }
}
