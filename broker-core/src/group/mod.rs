//! Consumer groups: the group coordinator and committed offsets, kept in `__consumer_offsets`.
//!
//! `state` is one group's membership state machine (pure); `records` the topic's key and value
//! formats; `coordinator` the async operations that tie them to the cluster (the coordinator of a
//! group is the broker leading its `__consumer_offsets` partition, and every state change is
//! stored there before it takes effect); `load` rebuilds everything from the topic at start.
//! All groups live under one mutex that is never held across an await.

pub mod coordinator;
mod load;
pub mod records;
pub mod state;
#[cfg(test)]
mod tests;
pub mod txn_offsets;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use coordinator::ResetTo;
use state::Group;
pub use state::{GroupState, JoinRequest};

/// Partitions of `__consumer_offsets` (Kafka's `offsets.topic.num.partitions`).
pub const OFFSETS_PARTITIONS: i32 = 50;
/// Kafka's `offset.metadata.max.bytes`.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Group ids longer than this are refused with INVALID_GROUP_ID (Kafka sets no limit, but the
/// id is a key in `__consumer_offsets` and a label in every metric and page).
pub const MAX_GROUP_ID_BYTES: usize = 255;

/// Settings of the group coordinator (Kafka's broker configs of the same meaning).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: a group forming from Empty waits this long for more
    /// members before its first generation.
    pub initial_rebalance_delay: Duration,
    /// `offsets.retention.minutes`: offsets of a group that stayed empty this long expire.
    pub offsets_retention: Duration,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval: Duration,
    /// `group.min.session.timeout.ms` / `group.max.session.timeout.ms`.
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
    /// `offsets.commit.timeout.ms`: how long a write to `__consumer_offsets` may wait for the ISR.
    pub commit_timeout: Duration,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: Duration::from_secs(3),
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            offsets_retention_check_interval: Duration::from_secs(600),
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(1800),
            commit_timeout: Duration::from_secs(5),
        }
    }
}

/// Every group of the cluster.
#[derive(Debug, Default)]
pub struct Groups {
    groups: Mutex<HashMap<String, Group>>,
    /// Offsets committed in transactions not yet ended, by producer id: they take effect at the
    /// transaction's commit marker and go at its abort marker.
    pending_txn: Mutex<HashMap<i64, Vec<txn_offsets::PendingOffset>>>,
}

impl Groups {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_pending(&self) -> MutexGuard<'_, HashMap<i64, Vec<txn_offsets::PendingOffset>>> {
        self.pending_txn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A group as listed (ListGroups, the dashboard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub state: GroupState,
    /// `consumer` for consumer groups, empty for groups that only store offsets.
    pub protocol_type: String,
    pub members: usize,
    /// The broker coordinating it (-1 while its `__consumer_offsets` partition has no leader).
    pub coordinator: i32,
}

/// One member as DescribeGroups and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Subscription bytes for the group's protocol (empty unless the group is Stable).
    pub metadata: bytes::Bytes,
    /// Assignment bytes (empty unless the group is Stable).
    pub assignment: bytes::Bytes,
    /// The assignment decoded as the consumer protocol: (topic, partitions).
    pub partitions: Vec<(String, Vec<i32>)>,
}

/// A group in full (DescribeGroups, the dashboard, the monitor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    /// The chosen assignor (empty unless Stable, as Kafka reports it).
    pub protocol: String,
    pub generation_id: i32,
    pub leader: Option<String>,
    pub members: Vec<MemberDescription>,
    pub coordinator: i32,
}

/// Whether a group id is one Kafka would accept here.
pub fn valid_group_id(group: &str) -> bool {
    !group.is_empty() && group.len() <= MAX_GROUP_ID_BYTES
}
