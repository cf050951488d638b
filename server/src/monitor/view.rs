//! The monitor's published state of one cluster: what the last tick found and concluded. Views
//! are immutable and swapped whole after each tick, so readers (pages, APIs, metrics, alerts)
//! never see half a tick and never hold up the sampler.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::evaluator::{CommitEntry, GroupState, GroupStatus, PartitionState};

#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    pub topic: String,
    pub partition: i32,
    pub internal: bool,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    /// Records per second appended since the previous sample.
    pub produce_rate: f64,
}

/// One partition of a group, as the dashboard and `/api/v1/groups/{group}` show it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupPartitionView {
    pub topic: String,
    pub partition: i32,
    /// `None` when the group never committed this partition.
    pub committed_offset: Option<i64>,
    pub commit_ts_ms: Option<i64>,
    pub end_offset: i64,
    pub lag: i64,
    /// `None` when it cannot be told (no record timestamp and no history to interpolate).
    pub lag_seconds: Option<f64>,
    pub status: PartitionState,
    pub owner: Option<String>,
    pub client_id: Option<String>,
}

/// One partition as Burrow's `/consumer/{group}` shows it: the commit ring, oldest first,
/// padded with nulls at the front to `intervals` slots.
#[derive(Debug, Clone, Serialize)]
pub struct RingView {
    pub offsets: Vec<Option<CommitEntry>>,
    pub owner: String,
    pub client_id: String,
    #[serde(rename = "current-lag")]
    pub current_lag: i64,
}

/// A group member and what it was assigned.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    pub partitions: Vec<(String, Vec<i32>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub group: String,
    pub status: GroupState,
    pub complete: f64,
    pub total_lag: i64,
    pub max_lag: i64,
    pub max_lag_seconds: Option<f64>,
    pub members: usize,
    pub member_list: Vec<MemberView>,
    /// Kafka's group state (`Stable`, `Empty`, ...).
    pub kafka_state: String,
    pub partitions: Vec<GroupPartitionView>,
    /// One plain-English line for an unhealthy group.
    pub diagnosis: Option<String>,
    /// Records per second committed since the previous sample (over all partitions).
    pub consume_rate: f64,
    /// Total lag of the last ticks, oldest first (for sparklines).
    pub trend: Vec<i64>,
    /// Burrow's verdict, as `/v3/kafka/{cluster}/consumer/{group}/status` serves it.
    #[serde(skip)]
    pub evaluation: GroupStatus,
    /// Burrow's rings per topic, indexed by partition.
    #[serde(skip)]
    pub rings: BTreeMap<String, Vec<RingView>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterView {
    pub name: String,
    /// When the last successful sample was taken (0 before the first).
    pub ts_ms: i64,
    /// `false` when the last attempt to sample failed; `error` says why.
    pub reachable: bool,
    pub error: Option<String>,
    /// How long the last tick took, sampling through storing.
    pub tick_ms: f64,
    pub topics: BTreeMap<String, i32>,
    pub partitions: Vec<PartitionView>,
    pub groups: BTreeMap<String, GroupView>,
    /// Records per second, all partitions (internal topics excluded).
    pub produce_rate: f64,
    /// Records per second committed, all groups.
    pub consume_rate: f64,
}

impl ClusterView {
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionView> {
        self.partitions.iter().find(|p| p.topic == topic && p.partition == partition)
    }
}
