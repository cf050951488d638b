//! Cluster-wide settings and per-topic overrides (Kafka's topic config names).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::group::GroupConfig;
use crate::log::LogConfig;

/// Settings of the embedded cluster, filled by `server` from `[cluster]` and `[log]`.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub name: String,
    pub data_dir: PathBuf,
    pub brokers: i32,
    pub default_partitions: i32,
    pub default_replication_factor: i32,
    pub min_insync_replicas: usize,
    pub auto_create_topics: bool,
    pub replica_lag_time_max: Duration,
    pub log: LogConfig,
    /// Group fsync period; zero fsyncs every append before it is acknowledged.
    pub flush_interval: Duration,
    pub retention_check_interval: Duration,
    /// Kafka's `socket.request.max.bytes`: larger requests are refused from their length prefix.
    pub max_request_bytes: usize,
    /// The group coordinator's settings.
    pub groups: GroupConfig,
}

impl ClusterConfig {
    /// Defaults of the public contract for `brokers` brokers under `data_dir`.
    pub fn new(data_dir: PathBuf, brokers: i32) -> ClusterConfig {
        ClusterConfig {
            name: "local".into(),
            data_dir,
            brokers,
            default_partitions: 1,
            default_replication_factor: brokers.min(3),
            min_insync_replicas: 1,
            auto_create_topics: true,
            replica_lag_time_max: Duration::from_secs(30),
            log: LogConfig::default(),
            flush_interval: Duration::from_secs(1),
            retention_check_interval: Duration::from_secs(300),
            max_request_bytes: 100 * 1024 * 1024,
            groups: GroupConfig::default(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=9).contains(&self.brokers) {
            return Err(format!("brokers must be between 1 and 9, got {}", self.brokers));
        }
        if self.default_partitions < 1 {
            return Err(format!("default_partitions must be at least 1, got {}", self.default_partitions));
        }
        if self.default_replication_factor < 1 || self.default_replication_factor > self.brokers {
            return Err(format!(
                "default_replication_factor must be between 1 and brokers ({}), got {}",
                self.brokers, self.default_replication_factor
            ));
        }
        if self.min_insync_replicas < 1 {
            return Err("min_insync_replicas must be at least 1".into());
        }
        if self.log.segment_bytes < 1024 {
            return Err(format!("segment_bytes must be at least 1024, got {}", self.log.segment_bytes));
        }
        Ok(())
    }
}

/// The effective settings of one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    pub log: LogConfig,
    pub min_insync_replicas: usize,
    pub cleanup_policy: String,
}

/// Topic configs warren understands, with their Kafka names.
pub const TOPIC_CONFIG_NAMES: &[&str] = &[
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "min.insync.replicas",
    "max.message.bytes",
    "compression.type",
    "message.timestamp.type",
    "unclean.leader.election.enable",
];

impl TopicConfig {
    pub fn defaults(cluster: &ClusterConfig) -> TopicConfig {
        TopicConfig {
            log: cluster.log.clone(),
            min_insync_replicas: cluster.min_insync_replicas,
            cleanup_policy: "delete".into(),
        }
    }

    /// Overlays `overrides` on the cluster defaults; an unknown name or a bad value is an error
    /// that names it.
    pub fn resolve(cluster: &ClusterConfig, overrides: &BTreeMap<String, String>) -> Result<TopicConfig, String> {
        let mut config = TopicConfig::defaults(cluster);
        for (name, value) in overrides {
            let int = || value.trim().parse::<i64>().map_err(|_| format!("{name}: '{value}' is not an integer"));
            match name.as_str() {
                "retention.ms" => {
                    let ms = int()?;
                    config.log.retention = (ms >= 0).then(|| Duration::from_millis(ms as u64));
                }
                "retention.bytes" => {
                    let bytes = int()?;
                    config.log.retention_bytes = (bytes >= 0).then_some(bytes as u64);
                }
                "segment.bytes" => {
                    let bytes = int()?;
                    if bytes < 1024 {
                        return Err(format!("segment.bytes: must be at least 1024, got {bytes}"));
                    }
                    config.log.segment_bytes = bytes as u64;
                }
                "segment.ms" => {
                    let ms = int()?;
                    if ms < 1 {
                        return Err(format!("segment.ms: must be positive, got {ms}"));
                    }
                    config.log.segment_age = Duration::from_millis(ms as u64);
                }
                "min.insync.replicas" => {
                    let min = int()?;
                    if min < 1 {
                        return Err(format!("min.insync.replicas: must be at least 1, got {min}"));
                    }
                    config.min_insync_replicas = min as usize;
                }
                "cleanup.policy" => {
                    if !value.split(',').all(|p| matches!(p.trim(), "delete" | "compact")) {
                        return Err(format!("cleanup.policy: '{value}' is not delete, compact or both"));
                    }
                    config.cleanup_policy = value.clone();
                }
                "unclean.leader.election.enable" => {
                    if value != "false" {
                        return Err("unclean.leader.election.enable: warren only elects leaders from the ISR".into());
                    }
                }
                "max.message.bytes" => {
                    int()?;
                }
                "compression.type" | "message.timestamp.type" => {}
                _ => return Err(format!("unknown topic config '{name}'")),
            }
        }
        // A compacted topic without `delete` keeps the latest record of every key forever.
        if !config.cleanup_policy.contains("delete") {
            config.log.retention = None;
            config.log.retention_bytes = None;
        }
        Ok(config)
    }
}
