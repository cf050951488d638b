//! What one client may take: connections in all and per address, and entries per request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::cluster::config::Limits;
use crate::protocol::Request;

/// Open connections over all of this process's brokers, in all and per client address.
#[derive(Debug, Default)]
pub struct ConnectionSlots {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total(usize),
    PerIp(usize),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Total(max) => write!(f, "max_connections ({max}) reached"),
            Refused::PerIp(max) => write!(f, "max_connections_per_ip ({max}) reached for this address"),
        }
    }
}

/// A connection's slot, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<ConnectionSlots>,
    ip: IpAddr,
}

impl ConnectionSlots {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, HashMap<IpAddr, usize>)> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot for a connection from `ip`, or says which limit refuses it.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Result<Slot, Refused> {
        let mut open = self.lock();
        if open.0 >= limits.max_connections {
            return Err(Refused::Total(limits.max_connections));
        }
        let from_ip = open.1.get(&ip).copied().unwrap_or(0);
        if from_ip >= limits.max_connections_per_ip {
            return Err(Refused::PerIp(limits.max_connections_per_ip));
        }
        open.0 += 1;
        open.1.insert(ip, from_ip + 1);
        Ok(Slot { slots: Arc::clone(self), ip })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// How many partitions (or topics, groups, config resources) a request names: what
/// `max_partitions_per_request` bounds.
pub fn entries(request: &Request) -> usize {
    match request {
        Request::Produce(r) => r.topic_data.iter().map(|t| t.partition_data.len().max(1)).sum(),
        Request::Fetch(r) => {
            r.topics.iter().map(|t| t.partitions.len().max(1)).sum::<usize>()
                + r.forgotten_topics_data.iter().map(|t| t.partitions.len().max(1)).sum::<usize>()
        }
        Request::ListOffsets(r) => r.topics.iter().map(|t| t.partitions.len().max(1)).sum(),
        Request::ListOffsetsV0(r) => r.topics.iter().map(|(_, p)| p.len().max(1)).sum(),
        Request::Metadata(r) => r.topics.as_ref().map_or(0, Vec::len),
        Request::CreateTopics(r) => r.topics.len(),
        Request::DeleteTopics(r) => r.topics.len() + r.topic_names.len(),
        Request::CreatePartitions(r) => r.topics.len(),
        Request::DescribeConfigs(r) => r.resources.len(),
        Request::OffsetCommit(r) => r.topics.iter().map(|t| t.partitions.len().max(1)).sum(),
        Request::OffsetFetch(r) => {
            let single: usize = r.topics.iter().flatten().map(|t| t.partition_indexes.len().max(1)).sum();
            let batched: usize = r
                .groups
                .iter()
                .map(|g| g.topics.iter().flatten().map(|t| t.partition_indexes.len().max(1)).sum::<usize>().max(1))
                .sum();
            single + batched
        }
        Request::DescribeGroups(r) => r.groups.len(),
        Request::DeleteGroups(r) => r.groups_names.len(),
        Request::DescribeUserScramCredentials(r) => r.users.as_ref().map_or(0, Vec::len),
        Request::AlterUserScramCredentials(r) => r.deletions.len() + r.upsertions.len(),
        Request::AlterConfigs(r) => r.resources.iter().map(|c| c.configs.len().max(1)).sum(),
        Request::IncrementalAlterConfigs(r) => r.resources.iter().map(|c| c.configs.len().max(1)).sum(),
        Request::DeleteRecords(r) => r.topics.iter().map(|t| t.partitions.len().max(1)).sum(),
        Request::OffsetForLeaderEpoch(r) => r.topics.iter().map(|t| t.partitions.len().max(1)).sum(),
        Request::DescribeLogDirs(r) => r.topics.iter().flatten().map(|t| t.partitions.len().max(1)).sum(),
        Request::ElectLeaders(r) => r.topic_partitions.iter().flatten().map(|t| t.partitions.len().max(1)).sum(),
        Request::AddPartitionsToTxn(r) => r.v3_and_below_topics.iter().map(|t| t.partitions.len().max(1)).sum(),
        Request::TxnOffsetCommit(r) => r.topics.iter().map(|t| t.partitions.len().max(1)).sum(),
        Request::DescribeTransactions(r) => r.transactional_ids.len(),
        Request::ListTransactions(r) => r.state_filters.len() + r.producer_id_filters.len(),
        Request::ApiVersions(_)
        | Request::AddOffsetsToTxn(_)
        | Request::EndTxn(_)
        | Request::DescribeCluster(_)
        | Request::InitProducerId(_)
        | Request::FindCoordinator(_)
        | Request::JoinGroup(_)
        | Request::SyncGroup(_)
        | Request::Heartbeat(_)
        | Request::LeaveGroup(_)
        | Request::ListGroups(_)
        | Request::SaslHandshake(_)
        | Request::SaslAuthenticate(_) => 0,
    }
}
