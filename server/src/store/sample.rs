//! What the sampler hands the store each tick, and what the store hands back to a restarted
//! evaluator: plain data, one struct per raw table. The cluster is not repeated per sample; it
//! comes from the `Tick` (writes) or the query's argument (reads).

use serde::Serialize;

use crate::evaluator::{GroupState, PartitionState};

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
    pub status: PartitionState,
    /// The member owning the partition, as `member/host`, when the group has one.
    pub owner: Option<String>,
    pub client_id: Option<String>,
}

/// One group's overall status at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStatusSample {
    pub group_id: String,
    pub ts_ms: i64,
    pub status: GroupState,
    pub total_lag: i64,
    pub max_lag: i64,
    pub max_lag_seconds: Option<f64>,
    pub partitions: i64,
    pub members: i64,
    /// Burrow's `complete`: the fraction of the evaluation window that was filled.
    pub complete: f64,
}
