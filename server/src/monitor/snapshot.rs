//! What the sampler reads from a cluster on each tick, and where it reads it from.
//!
//! A `Snapshot` is plain data: the cluster's shape (brokers up or down, the controller, every
//! partition's leader, replicas, ISR, offline replicas and offsets) and every group with its
//! members, their assignments and its committed offsets with commit timestamps. What could not be
//! read is listed in `problems`; the rest stands.
//! The embedded cluster answers through broker-core's in-process API; external clusters through
//! the Kafka protocol (`external.rs`). Nothing here evaluates anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use broker_core::Cluster;
use serde::Serialize;

use super::external::External;

/// One broker as the source sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerSnapshot {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
    /// The embedded cluster says; an external broker is down when the previous Metadata listed it
    /// (or a partition names it as a replica) and this one does not.
    pub up: bool,
    /// Whether a failover drill holds its replica fetcher (the embedded cluster only).
    pub replication_paused: Option<bool>,
    /// Bytes on disk, where the source can tell.
    pub size_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicSnapshot {
    pub partitions: i32,
    pub internal: bool,
    /// Per-topic config overrides, where the source tells them.
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Offsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    /// Where the source can tell (external clusters show the high watermark only).
    pub log_end_offset: Option<i64>,
    /// The high watermark, or the first offset of the oldest open transaction, where the source
    /// can tell.
    pub last_stable_offset: Option<i64>,
    /// Just past the last data batch (only transaction markers follow), where the source can tell.
    #[serde(skip)]
    pub data_end: Option<i64>,
}

impl Offsets {
    /// Where lag is measured from for a consumer reading up to `bound` (the high watermark, or
    /// the last stable offset for read_committed): a consumer past the last data batch has only
    /// markers left, so lag 0 (a transactional partition's commit marker is not lag).
    pub fn lag_end(&self, read_committed: bool) -> i64 {
        let bound =
            if read_committed { self.last_stable_offset.unwrap_or(self.high_watermark) } else { self.high_watermark };
        self.data_end.map_or(bound, |d| d.min(bound))
    }
}

/// Where a replica stands, as the topic page's layout grid shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaRole {
    Leader,
    InSync,
    /// A follower out of the ISR on a broker that is up.
    Behind,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionSnapshot {
    pub topic: String,
    pub partition: i32,
    pub internal: bool,
    /// -1 when no leader is in service.
    pub leader: i32,
    pub leader_epoch: Option<i32>,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
    /// `None` when they could not be read this tick (no leader, or the leader did not answer).
    #[serde(flatten)]
    pub offsets: Option<Offsets>,
    /// The leader's bytes on disk, where the source can tell.
    pub size_bytes: Option<u64>,
    /// (follower, records behind the leader's log end), where the source can tell.
    #[serde(skip)]
    pub follower_lag: Vec<(i32, i64)>,
}

impl PartitionSnapshot {
    pub fn offline(&self) -> bool {
        self.leader < 0
    }

    pub fn under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }

    /// The leader is the first replica (Kafka's preferred leader).
    pub fn leader_is_preferred(&self) -> bool {
        self.leader >= 0 && self.replicas.first() == Some(&self.leader)
    }

    /// What `broker` is for this partition (`None` when it holds no replica).
    pub fn role_of(&self, broker: i32) -> Option<ReplicaRole> {
        if !self.replicas.contains(&broker) {
            None
        } else if self.offline_replicas.contains(&broker) {
            Some(ReplicaRole::Offline)
        } else if self.leader == broker {
            Some(ReplicaRole::Leader)
        } else if self.isr.contains(&broker) {
            Some(ReplicaRole::InSync)
        } else {
            Some(ReplicaRole::Behind)
        }
    }

    pub fn high_watermark(&self) -> Option<i64> {
        self.offsets.map(|o| o.high_watermark)
    }
}

/// A piece of a snapshot that could not be read, and why (the rest of the snapshot stands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The request, as Kafka names it (`ListOffsets`, `DescribeGroups`, ...).
    pub request: String,
    /// What it was for (`topic orders partition 3`, `group billing`).
    pub subject: String,
    /// The error, with the broker's answer when there was one.
    pub error: String,
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
    /// Whether its consumers read read_committed, where the source can tell (the embedded
    /// cluster sees their fetches): lag is then measured against the last stable offset.
    pub read_committed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub ts_ms: i64,
    /// -1 when unknown.
    pub controller_id: i32,
    pub brokers: Vec<BrokerSnapshot>,
    /// Every topic, online or not (a topic missing here was deleted).
    pub topics: BTreeMap<String, TopicSnapshot>,
    /// Every partition of every topic, with or without a leader.
    pub partitions: Vec<PartitionSnapshot>,
    pub groups: Vec<GroupSnapshot>,
    /// What could not be read this tick.
    pub problems: Vec<Problem>,
}

/// The cluster's shape alone: what a snapshot holds besides the groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub controller_id: i32,
    pub brokers: Vec<BrokerSnapshot>,
    pub topics: BTreeMap<String, TopicSnapshot>,
    /// Sorted by topic, then partition.
    pub partitions: Vec<PartitionSnapshot>,
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

    /// The shape right now, where the source can read it without a round trip (the embedded
    /// cluster; pages and the API show it so an action's effect shows at once).
    pub fn live_shape(&self) -> Option<Shape> {
        match self {
            Source::Embedded(cluster) => Some(embedded_shape(cluster)),
            Source::External(_) => None,
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

/// The embedded cluster's shape, from broker-core's one plain-data call.
pub fn embedded_shape(cluster: &Cluster) -> Shape {
    let shape = cluster.shape();
    let brokers = shape
        .brokers
        .into_iter()
        .map(|b| BrokerSnapshot {
            id: b.id,
            host: b.host,
            port: i32::from(b.port),
            rack: None,
            up: b.up,
            replication_paused: Some(b.replication_paused),
            size_bytes: Some(b.size_bytes),
        })
        .collect();
    let mut topics = BTreeMap::new();
    let mut partitions = Vec::new();
    for topic in shape.topics {
        let snapshot =
            TopicSnapshot { partitions: topic.partitions.len() as i32, internal: topic.internal, config: topic.config };
        topics.insert(topic.name.clone(), snapshot);
        for p in topic.partitions {
            let end = p.offsets.map(|o| o.log_end_offset);
            partitions.push(PartitionSnapshot {
                topic: topic.name.clone(),
                partition: p.partition,
                internal: topic.internal,
                leader: p.leader,
                leader_epoch: Some(p.leader_epoch),
                replicas: p.replicas,
                isr: p.isr,
                offline_replicas: p.offline_replicas,
                offsets: p.offsets.map(|o| Offsets {
                    log_start_offset: o.log_start_offset,
                    high_watermark: o.high_watermark,
                    log_end_offset: Some(o.log_end_offset),
                    last_stable_offset: Some(o.last_stable_offset),
                    data_end: Some(o.data_end),
                }),
                size_bytes: p.size_bytes,
                follower_lag: end.map_or_else(Vec::new, |end| {
                    p.follower_end_offsets.into_iter().map(|(r, offset)| (r, (end - offset).max(0))).collect()
                }),
            });
        }
    }
    Shape { controller_id: shape.controller_id, brokers, topics, partitions }
}

fn embedded_snapshot(cluster: &Cluster, now_ms: i64) -> Snapshot {
    let shape = embedded_shape(cluster);
    let groups = cluster
        .list_groups(None)
        .into_iter()
        .filter_map(|listing| {
            let description = cluster.describe_group(&listing.group_id)?;
            let offsets = cluster.committed_offsets(&listing.group_id).unwrap_or_default();
            // read_committed when every member whose fetches were seen reads it.
            let seen: Vec<bool> =
                description.members.iter().filter_map(|m| cluster.client_reads_committed(&m.client_id)).collect();
            let read_committed = (!seen.is_empty()).then(|| seen.iter().all(|c| *c));
            Some(GroupSnapshot {
                read_committed,
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
    Snapshot {
        ts_ms: now_ms,
        controller_id: shape.controller_id,
        brokers: shape.brokers,
        topics: shape.topics,
        partitions: shape.partitions,
        groups,
        problems: Vec::new(),
    }
}
