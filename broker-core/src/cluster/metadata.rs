//! Cluster metadata the controller owns: topics, replica assignment, leaders, leader epochs, ISR.
//!
//! Persisted as JSON (`cluster-metadata.json` in the data dir, written atomically) so a restart
//! restores the same layout. Invariants: every partition's leader is -1 or a member of its ISR;
//! the ISR is a subset of the replicas; leader epochs only grow.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::log::write_atomically;

pub const FILE_NAME: &str = "cluster-metadata.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMeta {
    pub replicas: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    /// Kafka topic id (UUID bytes).
    pub id: [u8; 16],
    #[serde(default)]
    pub internal: bool,
    /// Per-topic config overrides (`retention.ms`, `min.insync.replicas`, ...).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    pub partitions: Vec<PartitionMeta>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMetadata {
    pub cluster_id: String,
    pub topics: BTreeMap<String, TopicMeta>,
    /// Counter feeding topic ids and assignment start points.
    #[serde(default)]
    pub topics_created: u64,
    /// Dynamic broker configs, cluster-wide (Kafka names: `log.retention.ms`, ...).
    #[serde(default)]
    pub broker_config: BTreeMap<String, String>,
}

impl ClusterMetadata {
    pub fn load(dir: &Path) -> io::Result<Option<ClusterMetadata>> {
        match std::fs::read(dir.join(FILE_NAME)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{FILE_NAME}: {e}"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, dir: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_atomically(&dir.join(FILE_NAME), &bytes)
    }

    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMeta> {
        self.topics.get(topic)?.partitions.get(usize::try_from(partition).ok()?)
    }

    pub fn partition_mut(&mut self, topic: &str, partition: i32) -> Option<&mut PartitionMeta> {
        self.topics.get_mut(topic)?.partitions.get_mut(usize::try_from(partition).ok()?)
    }
}

/// Kafka's rules for topic names: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name cannot be '{name}'"));
    }
    if name.len() > 249 {
        return Err(format!("topic name is {} characters long; the limit is 249", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("topic name contains '{c}'; only ASCII letters, digits, '.', '_' and '-' are allowed"));
    }
    Ok(())
}

/// Kafka's rack-unaware assignment: the first replica of partition p goes round robin from
/// `start`, the followers after it with a shift that grows every `brokers.len()` partitions, so
/// leaders and followers spread evenly. `first_partition` lets added partitions continue the run.
pub fn assign_replicas(
    brokers: &[i32],
    partitions: usize,
    replication_factor: usize,
    start: usize,
    first_partition: usize,
) -> Vec<Vec<i32>> {
    let n = brokers.len();
    assert!(n > 0 && replication_factor >= 1 && replication_factor <= n, "assignment needs 1 <= rf <= brokers");
    let mut out = Vec::with_capacity(partitions);
    for p in first_partition..first_partition + partitions {
        let shift = start + p / n;
        let first = (p + start) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..replication_factor - 1 {
            let idx = if n == 1 { first } else { (first + 1 + (shift + j) % (n - 1)) % n };
            replicas.push(brokers[idx]);
        }
        out.push(replicas);
    }
    out
}

/// A version-4 style UUID from a counter and the clock; ids only need to be unique per cluster.
pub fn new_topic_id(seed: u64) -> [u8; 16] {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&nanos.to_be_bytes());
    id[8..].copy_from_slice(&(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos.rotate_left(17)).to_be_bytes());
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_spreads_leaders_and_replicas() {
        let a = assign_replicas(&[1, 2, 3], 6, 3, 0, 0);
        assert_eq!(a[0], vec![1, 2, 3]);
        assert_eq!(a[1], vec![2, 3, 1]);
        assert_eq!(a[2], vec![3, 1, 2]);
        assert_eq!(a[3], vec![1, 3, 2]);
        for replicas in &a {
            let mut sorted = replicas.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 3, "replicas are distinct: {replicas:?}");
        }
        let leaders: Vec<i32> = a.iter().map(|r| r[0]).collect();
        for b in 1..=3 {
            assert_eq!(leaders.iter().filter(|l| **l == b).count(), 2);
        }
        assert_eq!(assign_replicas(&[1], 2, 1, 5, 0), vec![vec![1], vec![1]]);
    }

    #[test]
    fn topic_names() {
        for ok in ["a", "orders.v1", "__consumer_offsets", "x-y_z"] {
            assert!(validate_topic_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a b", "<script>", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad}");
        }
    }
}
