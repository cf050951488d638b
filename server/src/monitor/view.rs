//! The monitor's published state of one cluster: what the last tick found and concluded. Views
//! are immutable and swapped whole after each tick, so readers (pages, APIs, metrics, alerts)
//! never see half a tick and never hold up the sampler.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::snapshot::{BrokerSnapshot, PartitionSnapshot, Problem, Shape, TopicSnapshot};
use crate::evaluator::{CommitEntry, GroupState, GroupStatus, PartitionState};

/// A partition's shape as sampled, and its produce rate.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    #[serde(flatten)]
    pub shape: PartitionSnapshot,
    /// Records per second appended since the previous sample.
    pub produce_rate: f64,
}

impl std::ops::Deref for PartitionView {
    type Target = PartitionSnapshot;

    fn deref(&self) -> &PartitionSnapshot {
        &self.shape
    }
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
    /// Lag is measured against the last stable offset (its consumers read read_committed, as
    /// the embedded cluster saw in their fetches) rather than the high watermark.
    pub against_last_stable: bool,
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

/// Counts over a view's partitions, made once when the view is.
#[derive(Debug, Clone, Default)]
pub struct ShapeSummary {
    pub under_replicated: usize,
    pub offline: usize,
    /// broker id -> (partitions it leads, replicas it holds).
    pub per_broker: BTreeMap<i32, (usize, usize)>,
}

impl ShapeSummary {
    pub fn of(partitions: &[PartitionView]) -> ShapeSummary {
        let mut summary = ShapeSummary::default();
        for p in partitions {
            summary.under_replicated += usize::from(p.under_replicated());
            summary.offline += usize::from(p.offline());
            if p.leader >= 0 {
                summary.per_broker.entry(p.leader).or_default().0 += 1;
            }
            for r in &p.replicas {
                summary.per_broker.entry(*r).or_default().1 += 1;
            }
        }
        summary
    }
}

/// Cheap to clone: the big parts are shared.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    pub name: String,
    /// When the last successful sample was taken (0 before the first).
    pub ts_ms: i64,
    /// `false` when the last attempt to sample failed; `error` says why.
    pub reachable: bool,
    pub error: Option<String>,
    /// How long the last tick took, sampling through storing.
    pub tick_ms: f64,
    /// -1 when unknown.
    pub controller_id: i32,
    pub brokers: Vec<BrokerSnapshot>,
    pub topics: Arc<BTreeMap<String, TopicSnapshot>>,
    /// Every partition, ordered by topic then partition.
    pub partitions: Arc<Vec<PartitionView>>,
    /// Counts over `partitions`, made once per view.
    pub summary: ShapeSummary,
    pub groups: Arc<BTreeMap<String, GroupView>>,
    /// Records per second, all partitions (internal topics excluded).
    pub produce_rate: f64,
    /// Records per second committed, all groups.
    pub consume_rate: f64,
    /// What the last tick could not read (the rest of the view stands).
    pub problems: Vec<Problem>,
}

impl ClusterView {
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionView> {
        self.topic_partitions(topic).iter().find(|p| p.partition == partition)
    }

    /// A topic's partitions (a slice of `partitions`, which is sorted by topic).
    pub fn topic_partitions(&self, topic: &str) -> &[PartitionView] {
        let start = self.partitions.partition_point(|p| p.topic.as_str() < topic);
        let end = start + self.partitions[start..].partition_point(|p| p.topic == topic);
        &self.partitions[start..end]
    }

    /// This view with the cluster's shape replaced by `shape` (read later, from the same kind of
    /// source), keeping each partition's produce rate and everything else of the tick.
    pub fn with_shape(&self, shape: Shape) -> ClusterView {
        let partitions = shape
            .partitions
            .into_iter()
            .map(|p| {
                let produce_rate = self.partition(&p.topic, p.partition).map_or(0.0, |v| v.produce_rate);
                PartitionView { shape: p, produce_rate }
            })
            .collect();
        let partitions: Vec<PartitionView> = partitions;
        ClusterView {
            controller_id: shape.controller_id,
            brokers: shape.brokers,
            topics: Arc::new(shape.topics),
            summary: ShapeSummary::of(&partitions),
            partitions: Arc::new(partitions),
            ..self.clone()
        }
    }

    pub fn under_replicated(&self) -> usize {
        self.summary.under_replicated
    }

    pub fn offline(&self) -> usize {
        self.summary.offline
    }
}
