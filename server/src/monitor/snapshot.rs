//! What the sampler reads from a cluster on each tick, and where it reads it from.
//!
//! A `Snapshot` is plain data: every partition's log start offset and high watermark, and every
//! group with its members, their assignments and its committed offsets with commit timestamps.
//! The embedded cluster answers through broker-core's in-process API; external clusters through
//! the Kafka protocol (`external.rs`). Nothing here evaluates anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use broker_core::Cluster;

use super::external::External;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSnapshot {
    pub topic: String,
    pub partition: i32,
    pub internal: bool,
    pub log_start_offset: i64,
    pub high_watermark: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSnapshot {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    /// Assigned (topic, partitions).
    pub partitions: Vec<(String, Vec<i32>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSnapshot {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub commit_ts_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    pub group_id: String,
    /// Kafka's group state (`Stable`, `Empty`, ...).
    pub state: String,
    pub members: Vec<MemberSnapshot>,
    pub offsets: Vec<CommitSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub ts_ms: i64,
    /// Every topic and its partition count, online or not (a topic missing here was deleted).
    pub topics: BTreeMap<String, i32>,
    /// Partitions that have a leader.
    pub partitions: Vec<PartitionSnapshot>,
    pub groups: Vec<GroupSnapshot>,
}

/// Where a cluster's snapshots come from.
#[derive(Clone)]
pub enum Source {
    Embedded(Arc<Cluster>),
    /// A Kafka-compatible cluster elsewhere, read with warren's own protocol client.
    External(Arc<External>),
}

impl Source {
    /// Reads one snapshot, stamped `now_ms`.
    pub async fn snapshot(&self, now_ms: i64) -> Result<Snapshot, String> {
        match self {
            Source::Embedded(cluster) => Ok(embedded_snapshot(cluster, now_ms)),
            Source::External(external) => external.snapshot(now_ms).await,
        }
    }

    /// When the record at `offset` was written, if the source can read its log.
    pub fn record_timestamp(&self, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        match self {
            Source::Embedded(cluster) => cluster.record_timestamp(topic, partition, offset),
            Source::External(external) => external.record_timestamp(topic, partition, offset),
        }
    }
}

fn embedded_snapshot(cluster: &Cluster, now_ms: i64) -> Snapshot {
    let topics = cluster.metadata().topics.values().map(|t| (t.name.clone(), t.partitions.len() as i32)).collect();
    let partitions = cluster
        .partition_offsets()
        .into_iter()
        .map(|p| PartitionSnapshot {
            topic: p.topic,
            partition: p.partition,
            internal: p.internal,
            log_start_offset: p.log_start_offset,
            high_watermark: p.high_watermark,
        })
        .collect();
    let groups = cluster
        .list_groups(None)
        .into_iter()
        .filter_map(|listing| {
            let description = cluster.describe_group(&listing.group_id)?;
            let offsets = cluster.committed_offsets(&listing.group_id).unwrap_or_default();
            Some(GroupSnapshot {
                group_id: listing.group_id,
                state: description.state.name().to_string(),
                members: description
                    .members
                    .into_iter()
                    .map(|m| MemberSnapshot {
                        member_id: m.member_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                        partitions: m.partitions,
                    })
                    .collect(),
                offsets: offsets
                    .into_iter()
                    .map(|((topic, partition), c)| CommitSnapshot {
                        topic,
                        partition,
                        offset: c.offset,
                        commit_ts_ms: c.commit_timestamp_ms,
                    })
                    .collect(),
            })
        })
        .collect();
    Snapshot { ts_ms: now_ms, topics, partitions, groups }
}
