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
    /// What one client may ask of the brokers (`[broker]`).
    pub limits: Limits,
    /// Listener security, SASL and users (`[security]`).
    pub security: crate::security::SecurityConfig,
}

/// Bounds on what clients may make the brokers do, with Kafka's names where Kafka has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Kafka's `fetch.max.bytes`: the most one Fetch response carries, whatever it asks for.
    pub fetch_max_bytes: usize,
    /// Kafka's `max.connections`, over all of this process's brokers.
    pub max_connections: usize,
    /// Kafka's `max.connections.per.ip`.
    pub max_connections_per_ip: usize,
    /// Kafka's `connections.max.idle.ms`: a connection that sends nothing for this long closes.
    pub connections_max_idle: Duration,
    /// Partitions one request may name (Produce, Fetch, ListOffsets, CreateTopics, ...).
    pub max_partitions_per_request: usize,
    /// Partitions the cluster may hold in all (each replica costs a directory and a descriptor).
    pub max_partitions: usize,
    /// Topics one Metadata request may create automatically.
    pub max_auto_created_topics_per_request: usize,
    /// Kafka's `producer.id.expiration.ms`: idempotent-producer state not used for this long goes.
    pub producer_id_expiration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fetch_max_bytes: 57_671_680,
            max_connections: 1000,
            max_connections_per_ip: 500,
            connections_max_idle: Duration::from_secs(600),
            max_partitions_per_request: 10_000,
            max_partitions: 20_000,
            max_auto_created_topics_per_request: 100,
            producer_id_expiration: Duration::from_secs(86_400),
        }
    }
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
            limits: Limits::default(),
            security: crate::security::SecurityConfig::default(),
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
        if self.log.segment_bytes < MIN_SEGMENT_BYTES {
            return Err(format!("segment_bytes must be at least {MIN_SEGMENT_BYTES}, got {}", self.log.segment_bytes));
        }
        if self.log.max_message_bytes < 1 {
            return Err("max_message_bytes must be at least 1".into());
        }
        if self.log.max_uncompressed_batch_bytes < self.log.max_message_bytes {
            return Err(format!(
                "max_uncompressed_batch_bytes ({}) must be at least max_message_bytes ({})",
                self.log.max_uncompressed_batch_bytes, self.log.max_message_bytes
            ));
        }
        self.security.validate()?;
        let l = &self.limits;
        for (name, value) in [
            ("fetch_max_bytes", l.fetch_max_bytes),
            ("max_connections", l.max_connections),
            ("max_connections_per_ip", l.max_connections_per_ip),
            ("max_partitions_per_request", l.max_partitions_per_request),
            ("max_partitions", l.max_partitions),
        ] {
            if value < 1 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(())
    }
}

/// The broker configs warren changes while it runs, cluster-wide (Kafka's dynamic default broker
/// configs, `kafka-configs.sh --entity-type brokers --entity-default`), each with the topic config
/// it is the default of. Everything else of `[cluster]` and `[log]` is static.
pub const DYNAMIC_BROKER_CONFIGS: &[(&str, &str)] = &[
    ("log.cleanup.policy", "cleanup.policy"),
    ("log.retention.ms", "retention.ms"),
    ("log.retention.bytes", "retention.bytes"),
    ("log.segment.bytes", "segment.bytes"),
    ("log.roll.ms", "segment.ms"),
    ("min.insync.replicas", "min.insync.replicas"),
    ("message.max.bytes", "max.message.bytes"),
];

/// The topic config a dynamic broker config sets the default of.
pub fn topic_name_of(broker_name: &str) -> Option<&'static str> {
    DYNAMIC_BROKER_CONFIGS.iter().find(|(b, _)| *b == broker_name).map(|(_, t)| *t)
}

/// Checks dynamic broker configs: each name must be one warren changes at run time and each
/// value one its topic counterpart accepts; the error names the broker key.
pub fn validate_broker_config(cluster: &ClusterConfig, values: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, value) in values {
        let Some(topic_name) = topic_name_of(name) else {
            let changeable: Vec<&str> = DYNAMIC_BROKER_CONFIGS.iter().map(|(b, _)| *b).collect();
            return Err(format!(
                "{name} cannot be changed while warren runs (set it in warren.toml); these can: {}",
                changeable.join(", ")
            ));
        };
        let single = BTreeMap::from([(topic_name.to_string(), value.clone())]);
        TopicConfig::resolve(cluster, &single).map_err(|e| e.replacen(topic_name, name, 1))?;
    }
    Ok(())
}

/// The smallest `segment.bytes` warren accepts: smaller segments only multiply files.
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

/// The effective settings of one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    pub log: LogConfig,
    pub min_insync_replicas: usize,
    pub cleanup_policy: String,
}

/// How a setting's value reads (Kafka's config types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Boolean,
    String,
    Int,
    Long,
    List,
}

/// One effective topic setting under Kafka's name, with its broker-level synonym.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSetting {
    pub name: &'static str,
    pub broker_name: &'static str,
    pub value: String,
    pub kind: SettingKind,
}

impl TopicConfig {
    /// Every setting of the topic under its Kafka name, in a fixed order.
    pub fn settings(&self) -> Vec<TopicSetting> {
        let ms = |d: Option<Duration>| d.map_or("-1".to_string(), |d| d.as_millis().to_string());
        let s = |name, broker_name, value: String, kind| TopicSetting { name, broker_name, value, kind };
        vec![
            s("cleanup.policy", "log.cleanup.policy", self.cleanup_policy.clone(), SettingKind::List),
            s("retention.ms", "log.retention.ms", ms(self.log.retention), SettingKind::Long),
            s(
                "retention.bytes",
                "log.retention.bytes",
                self.log.retention_bytes.map_or("-1".into(), |b| b.to_string()),
                SettingKind::Long,
            ),
            s("segment.bytes", "log.segment.bytes", self.log.segment_bytes.to_string(), SettingKind::Int),
            s("segment.ms", "log.roll.ms", self.log.segment_age.as_millis().to_string(), SettingKind::Long),
            s("min.insync.replicas", "min.insync.replicas", self.min_insync_replicas.to_string(), SettingKind::Int),
            s("max.message.bytes", "message.max.bytes", self.log.max_message_bytes.to_string(), SettingKind::Int),
            s("compression.type", "compression.type", "producer".into(), SettingKind::String),
            s("message.timestamp.type", "log.message.timestamp.type", "CreateTime".into(), SettingKind::String),
            s("unclean.leader.election.enable", "unclean.leader.election.enable", "false".into(), SettingKind::Boolean),
        ]
    }

    pub fn defaults(cluster: &ClusterConfig) -> TopicConfig {
        TopicConfig {
            log: cluster.log.clone(),
            min_insync_replicas: cluster.min_insync_replicas,
            cleanup_policy: "delete".into(),
        }
    }

    /// Overlays the dynamic broker defaults (Kafka names, see [`DYNAMIC_BROKER_CONFIGS`]), then
    /// the topic's own overrides, on the cluster defaults.
    pub fn resolve_with(
        cluster: &ClusterConfig,
        broker_defaults: &BTreeMap<String, String>,
        overrides: &BTreeMap<String, String>,
    ) -> Result<TopicConfig, String> {
        let mut merged: BTreeMap<String, String> = broker_defaults
            .iter()
            .filter_map(|(name, value)| Some((topic_name_of(name)?.to_string(), value.clone())))
            .collect();
        merged.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        TopicConfig::resolve(cluster, &merged)
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
                    if bytes < MIN_SEGMENT_BYTES as i64 {
                        return Err(format!("segment.bytes: must be at least {MIN_SEGMENT_BYTES}, got {bytes}"));
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
                    let bytes = int()?;
                    let max = config.log.max_uncompressed_batch_bytes;
                    if bytes < 1 || bytes as u64 > max as u64 {
                        return Err(format!("max.message.bytes: must be between 1 and {max} (max_uncompressed_batch_bytes), got {bytes}"));
                    }
                    config.log.max_message_bytes = bytes as usize;
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
