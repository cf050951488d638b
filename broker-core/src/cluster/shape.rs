//! The cluster's shape as plain data, read in one call: brokers and whether they are up, the
//! controller, and every partition's leader, epoch, replicas, in-service ISR, offline replicas,
//! offsets and size. The Metadata handler and the monitor both read liveness through `Live`, so
//! a client and the dashboard never disagree about which replicas are in service.

use std::collections::BTreeMap;

use super::metadata::PartitionMeta;
use super::Cluster;

/// One logical broker as a monitor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerShape {
    pub id: i32,
    pub host: String,
    pub port: u16,
    pub up: bool,
    /// A failover drill holds its replica fetcher.
    pub replication_paused: bool,
    /// Bytes on disk over every replica the broker hosts.
    pub size_bytes: u64,
}

/// A partition's offsets, read from its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    /// The high watermark, or the first offset of the oldest open transaction.
    pub last_stable_offset: i64,
    /// Just past the last data batch (transaction markers may follow).
    pub data_end: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionShape {
    pub partition: i32,
    /// -1 when no leader is in service.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    /// In-sync replicas whose broker is up.
    pub isr: Vec<i32>,
    /// Replicas whose broker is down.
    pub offline_replicas: Vec<i32>,
    /// `None` while the partition has no leader in service.
    pub offsets: Option<Offsets>,
    /// The leader replica's bytes on disk.
    pub size_bytes: Option<u64>,
    /// (follower, log end offset) for every follower replica on a broker that is up.
    pub follower_end_offsets: Vec<(i32, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicShape {
    pub name: String,
    pub internal: bool,
    /// Per-topic config overrides.
    pub config: BTreeMap<String, String>,
    pub partitions: Vec<PartitionShape>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterShape {
    /// -1 when no broker is up.
    pub controller_id: i32,
    pub brokers: Vec<BrokerShape>,
    pub topics: Vec<TopicShape>,
}

/// A partition's replicas in service, given which brokers are up.
pub(crate) struct Live {
    pub leader: i32,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
}

impl Live {
    pub fn of(partition: &PartitionMeta, up: impl Fn(i32) -> bool) -> Live {
        Live {
            leader: if partition.leader >= 0 && up(partition.leader) { partition.leader } else { -1 },
            isr: partition.isr.iter().copied().filter(|r| up(*r)).collect(),
            offline_replicas: partition.replicas.iter().copied().filter(|r| !up(*r)).collect(),
        }
    }
}

impl Cluster {
    /// Whether broker `id` exists and is up.
    pub fn is_up(&self, id: i32) -> bool {
        self.broker(id).is_some_and(|b| b.is_up())
    }

    /// The whole cluster's shape at this moment (each partition read from its leader).
    pub fn shape(&self) -> ClusterShape {
        let md = self.metadata();
        let up = |id: i32| self.is_up(id);
        let brokers = self
            .brokers()
            .iter()
            .map(|b| BrokerShape {
                id: b.id,
                host: b.addr.ip().to_string(),
                port: b.addr.port(),
                up: b.is_up(),
                replication_paused: b.replication_paused(),
                size_bytes: b.partitions().iter().map(|p| p.size_bytes()).sum(),
            })
            .collect();
        let topics = md
            .topics
            .values()
            .map(|topic| TopicShape {
                name: topic.name.clone(),
                internal: topic.internal,
                config: topic.config.clone(),
                partitions: topic
                    .partitions
                    .iter()
                    .zip(0..)
                    .map(|(meta, index)| {
                        let live = Live::of(meta, up);
                        let leader = self.leader_replica(&topic.name, index);
                        let follower_end_offsets = meta
                            .replicas
                            .iter()
                            .filter(|r| **r != live.leader && up(**r))
                            .filter_map(|r| Some((*r, self.replica(*r, &topic.name, index)?.log_end_offset())))
                            .collect();
                        PartitionShape {
                            partition: index,
                            leader: live.leader,
                            leader_epoch: meta.leader_epoch,
                            replicas: meta.replicas.clone(),
                            isr: live.isr,
                            offline_replicas: live.offline_replicas,
                            offsets: leader.as_ref().map(|r| {
                                let (last_stable_offset, data_end) = r.stable_offsets();
                                Offsets {
                                    log_start_offset: r.log_start_offset(),
                                    high_watermark: r.high_watermark(),
                                    log_end_offset: r.log_end_offset(),
                                    last_stable_offset,
                                    data_end,
                                }
                            }),
                            size_bytes: leader.as_ref().map(|r| r.size_bytes()),
                            follower_end_offsets,
                        }
                    })
                    .collect(),
            })
            .collect();
        ClusterShape { controller_id: self.controller_id(), brokers, topics }
    }
}
