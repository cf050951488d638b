//! warren's configuration: defaults < TOML file < `WARREN_<SECTION>__<KEY>` environment < flags.
//!
//! The file and the environment are merged as TOML tables and deserialized once with
//! `deny_unknown_fields`, so an unknown key anywhere is an error that names it. Durations are
//! written `500ms`, `10s`, `5m`, `2h`, `7d`. This module reads no files or variables itself:
//! callers pass the file text and the environment in.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file: {0}")]
    File(String),
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
    #[error("invalid value for {key}: {reason}")]
    Invalid { key: String, reason: String },
}

/// A duration written as `500ms`, `10s`, `5m`, `2h` or `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("'{text}' is not a duration like 500ms, 10s, 5m, 2h or 7d"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("'{text}' has unit '{unit}'; use ms, s, m, h or d")),
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    pub name: Option<String>,
    pub brokers: Option<i32>,
    pub default_partitions: Option<i32>,
    pub default_replication_factor: Option<i32>,
    pub min_insync_replicas: Option<usize>,
    pub auto_create_topics: Option<bool>,
    #[serde(deserialize_with = "opt_duration")]
    pub replica_lag_time_max: Option<Duration>,
    /// `false` runs warren as a pure monitor with no embedded broker.
    pub embedded: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub segment_bytes: Option<u64>,
    #[serde(deserialize_with = "opt_duration")]
    pub segment_age: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub retention: Option<Duration>,
    /// -1 for no limit.
    pub retention_bytes: Option<i64>,
    #[serde(deserialize_with = "opt_duration")]
    pub flush_interval: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub retention_check_interval: Option<Duration>,
    pub max_request_bytes: Option<usize>,
    /// Kafka's `message.max.bytes`: the largest batch a client may produce (per-topic
    /// `max.message.bytes` overrides it).
    pub max_message_bytes: Option<usize>,
}

/// Limits on what one client may make the brokers do (Kafka's names where Kafka has one).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerSection {
    pub fetch_max_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    #[serde(deserialize_with = "opt_duration")]
    pub connections_max_idle: Option<Duration>,
    pub max_partitions_per_request: Option<usize>,
    pub max_partitions: Option<usize>,
    pub max_auto_created_topics_per_request: Option<usize>,
    #[serde(deserialize_with = "opt_duration")]
    pub producer_id_expiration: Option<Duration>,
    /// The most one batch's records may inflate to when decompressed.
    pub max_uncompressed_batch_bytes: Option<usize>,
}

/// The group coordinator (Kafka's broker settings of the same meaning).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct GroupsSection {
    /// `group.initial.rebalance.delay.ms` (3s).
    #[serde(deserialize_with = "opt_duration")]
    pub initial_rebalance_delay: Option<Duration>,
    /// `offsets.retention.minutes` (7d).
    #[serde(deserialize_with = "opt_duration")]
    pub offsets_retention: Option<Duration>,
    /// `offsets.retention.check.interval.ms` (10m).
    #[serde(deserialize_with = "opt_duration")]
    pub offsets_retention_check_interval: Option<Duration>,
    /// `group.min.session.timeout.ms` (6s) and `group.max.session.timeout.ms` (30m).
    #[serde(deserialize_with = "opt_duration")]
    pub min_session_timeout: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub max_session_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorSection {
    #[serde(deserialize_with = "duration")]
    pub sample_interval: Duration,
    pub intervals: u32,
    #[serde(deserialize_with = "duration")]
    pub min_distance: Duration,
    #[serde(deserialize_with = "duration")]
    pub expire_group: Duration,
    pub allowed_lag: i64,
    #[serde(deserialize_with = "duration")]
    pub raw_retention: Duration,
    /// Burrow's partition rules to apply: "1.3.7" (and later, the default) or "1.2.1".
    pub burrow_rules: String,
}

impl Default for MonitorSection {
    fn default() -> Self {
        MonitorSection {
            sample_interval: Duration::from_secs(10),
            intervals: 10,
            min_distance: Duration::from_secs(1),
            expire_group: Duration::from_secs(7 * 86_400),
            allowed_lag: 0,
            raw_retention: Duration::from_secs(86_400),
            burrow_rules: "1.3.7".into(),
        }
    }
}

/// `/metrics` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// Per-partition series (kafka_exporter's); off for very large clusters.
    pub per_partition: bool,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection { per_partition: true }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    pub listen: Option<String>,
    pub read_only: Option<bool>,
    pub admin_token: Option<String>,
    /// Host header names the dashboard answers to (`"*"` for any); default the listen host,
    /// `localhost`, `127.0.0.1` and `::1`.
    pub allowed_hosts: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalCluster {
    pub name: String,
    pub bootstrap_servers: Vec<String>,
    /// PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL.
    pub security_protocol: Option<String>,
    /// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<Secret>,
    pub sasl_password_file: Option<PathBuf>,
    /// Roots to trust (PEM); the system's CA bundle otherwise.
    pub ssl_ca: Option<PathBuf>,
    /// A client certificate chain and key (PEM), for clusters that require one.
    pub ssl_certificate: Option<PathBuf>,
    pub ssl_key: Option<PathBuf>,
    pub ssl_verify_hostname: Option<bool>,
}

/// A string from the configuration that never prints.
pub use broker_core::security::Secret;

/// `[security]`: the embedded brokers' listeners.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySection {
    /// PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL, for every broker's listener.
    pub protocol: Option<String>,
    /// PEM certificate chain and private key (SSL, SASL_SSL).
    pub ssl_certificate: Option<PathBuf>,
    pub ssl_key: Option<PathBuf>,
    /// PEM roots: when given, clients must show a certificate they sign (mTLS).
    pub ssl_client_ca: Option<PathBuf>,
    /// Default: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN.
    pub sasl_mechanisms: Option<Vec<String>>,
    pub super_users: Vec<String>,
    pub users: Vec<SecurityUser>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityUser {
    pub name: String,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub hmac_secret: Option<String>,
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub kind: String,
    pub status: Option<String>,
    pub threshold: Option<f64>,
    #[serde(rename = "for", default, deserialize_with = "opt_duration")]
    pub for_duration: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub repeat_interval: Option<Duration>,
    pub groups: Option<String>,
    pub topics: Option<String>,
    #[serde(default)]
    pub receivers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsSection {
    pub rules: Vec<Rule>,
    pub receivers: Vec<Receiver>,
}

/// `[[streams]]` entries as written; `crate::streams::spec` defines and checks them.
pub use crate::streams::spec::{StreamsFilter, StreamsJoin, StreamsSection, StreamsWindow};

/// `[connect]` as written; `crate::connect` runs it.
pub use crate::connect::ConnectSection;

/// The whole file (and environment) layer.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub cluster: ClusterSection,
    pub log: LogSection,
    pub broker: BrokerSection,
    pub groups: GroupsSection,
    pub monitor: MonitorSection,
    pub metrics: MetricsSection,
    pub http: HttpSection,
    pub clusters: Vec<ExternalCluster>,
    pub alerts: AlertsSection,
    pub security: SecuritySection,
    pub streams: Vec<StreamsSection>,
    pub connect: ConnectSection,
}

/// Values given as command-line flags (or their own env vars, which clap reads).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub data_dir: Option<PathBuf>,
    pub kafka_listen: Option<String>,
    pub http_listen: Option<String>,
    pub connect_listen: Option<String>,
    pub brokers: Option<i32>,
    pub read_only: bool,
    pub demo: bool,
    pub admin_token: Option<String>,
}

/// The resolved configuration `serve` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub cluster: broker_core::ClusterConfig,
    pub kafka_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub read_only: bool,
    pub admin_token: Option<String>,
    pub demo: bool,
    pub monitor: MonitorSection,
    pub metrics: MetricsSection,
    pub external_clusters: Vec<ExternalCluster>,
    pub alerts: AlertsSection,
    /// This machine's name (Burrow's `request.host`); the command line fills it in.
    pub hostname: String,
    /// `[cluster] embedded`: run the embedded brokers (the default) or only monitor.
    pub embedded: bool,
    /// `[http] allowed_hosts`, resolved.
    pub allowed_hosts: Vec<String>,
    /// `[security]`, checked; `crate::security` reads its files.
    pub security: SecuritySection,
    /// `[[streams]]`, checked.
    pub streams: Vec<crate::streams::JobSpec>,
    /// `[connect] listen` when the Connect worker runs.
    pub connect_listen: Option<SocketAddr>,
}

/// Merges `WARREN_<SECTION>__<KEY>` variables from `env` into the file's table. Values parse as
/// TOML scalars when they can (`3`, `true`) and are strings otherwise (`10s`, `local`).
fn merge_env(table: &mut toml::Table, env: &[(String, String)]) -> Result<(), ConfigError> {
    for (var, value) in env {
        let Some(rest) = var.strip_prefix("WARREN_") else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        // WARREN_CLUSTERS__<NAME>__<KEY>: a key of the [[clusters]] entry of that name (secrets
        // such as SASL_PASSWORD stay out of the file).
        if section == "clusters" {
            let Some((name, key)) = key.split_once("__") else {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    reason: "expected WARREN_CLUSTERS__<NAME>__<KEY>".into(),
                });
            };
            let entry = table
                .get_mut("clusters")
                .and_then(toml::Value::as_array_mut)
                .and_then(|clusters| {
                    clusters.iter_mut().find(|c| {
                        c.get("name").and_then(toml::Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name))
                    })
                })
                .and_then(toml::Value::as_table_mut);
            let Some(entry) = entry else {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    reason: format!("no [[clusters]] entry named '{name}'"),
                });
            };
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .filter(toml::Value::is_bool)
                .unwrap_or_else(|| toml::Value::String(value.clone()));
            entry.insert(key.to_string(), parsed);
            continue;
        }
        if section.is_empty() || key.is_empty() {
            return Err(ConfigError::Env { var: var.clone(), reason: "expected WARREN_<SECTION>__<KEY>".into() });
        }
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.clone()));
        let entry = table.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(section_table) = entry else {
            return Err(ConfigError::Env { var: var.clone(), reason: format!("[{section}] is not a section") });
        };
        section_table.insert(key, parsed);
    }
    Ok(())
}

fn parse_addr(key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    text.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ConfigError::Invalid { key: key.into(), reason: format!("'{text}' is not HOST:PORT") })
}

/// Builds the configuration from the file text (if any), the process environment and the flags.
pub fn resolve(file_text: Option<&str>, env: &[(String, String)], flags: &Flags) -> Result<Config, ConfigError> {
    let mut table: toml::Table = match file_text {
        Some(text) => toml::from_str(text).map_err(|e| ConfigError::File(e.to_string()))?,
        None => toml::Table::new(),
    };
    merge_env(&mut table, env)?;
    let file: FileConfig = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
        let from_env = env.iter().any(|(k, _)| k.contains("__"));
        let msg = e.to_string();
        if from_env {
            ConfigError::File(format!("{msg} (from the config file or a WARREN_<SECTION>__<KEY> variable)"))
        } else {
            ConfigError::File(msg)
        }
    })?;

    let data_dir = flags.data_dir.clone().unwrap_or_else(|| PathBuf::from("./warren-data"));
    let brokers = flags.brokers.or(file.cluster.brokers).unwrap_or(3);
    let mut cluster = broker_core::ClusterConfig::new(data_dir, brokers);
    let c = &file.cluster;
    if let Some(name) = &c.name {
        cluster.name = name.clone();
    }
    if let Some(v) = c.default_partitions {
        cluster.default_partitions = v;
    }
    cluster.default_replication_factor = c.default_replication_factor.unwrap_or(brokers.clamp(1, 3));
    if let Some(v) = c.min_insync_replicas {
        cluster.min_insync_replicas = v;
    }
    if let Some(v) = c.auto_create_topics {
        cluster.auto_create_topics = v;
    }
    if let Some(v) = c.replica_lag_time_max {
        cluster.replica_lag_time_max = v;
    }
    let l = &file.log;
    if let Some(v) = l.segment_bytes {
        cluster.log.segment_bytes = v;
    }
    if let Some(v) = l.segment_age {
        cluster.log.segment_age = v;
    }
    if let Some(v) = l.retention {
        cluster.log.retention = Some(v);
    }
    if let Some(v) = l.retention_bytes {
        cluster.log.retention_bytes = u64::try_from(v).ok();
    }
    if let Some(v) = l.flush_interval {
        cluster.flush_interval = v;
    }
    if let Some(v) = l.retention_check_interval {
        cluster.retention_check_interval = v;
    }
    if let Some(v) = l.max_request_bytes {
        cluster.max_request_bytes = v;
    }
    if let Some(v) = l.max_message_bytes {
        cluster.log.max_message_bytes = v;
    }
    let b = &file.broker;
    let limits = &mut cluster.limits;
    for (value, field) in [
        (b.fetch_max_bytes, &mut limits.fetch_max_bytes),
        (b.max_connections, &mut limits.max_connections),
        (b.max_connections_per_ip, &mut limits.max_connections_per_ip),
        (b.max_partitions_per_request, &mut limits.max_partitions_per_request),
        (b.max_partitions, &mut limits.max_partitions),
        (b.max_auto_created_topics_per_request, &mut limits.max_auto_created_topics_per_request),
        (b.max_uncompressed_batch_bytes, &mut cluster.log.max_uncompressed_batch_bytes),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    if let Some(v) = b.connections_max_idle {
        limits.connections_max_idle = v;
    }
    if let Some(v) = b.producer_id_expiration {
        limits.producer_id_expiration = v;
    }
    let g = &file.groups;
    let gc = &mut cluster.groups;
    for (value, field) in [
        (g.initial_rebalance_delay, &mut gc.initial_rebalance_delay),
        (g.offsets_retention, &mut gc.offsets_retention),
        (g.offsets_retention_check_interval, &mut gc.offsets_retention_check_interval),
        (g.min_session_timeout, &mut gc.min_session_timeout),
        (g.max_session_timeout, &mut gc.max_session_timeout),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    if gc.min_session_timeout > gc.max_session_timeout {
        return Err(ConfigError::Invalid {
            key: "groups.min_session_timeout".into(),
            reason: "must not exceed groups.max_session_timeout".into(),
        });
    }
    if gc.offsets_retention_check_interval.is_zero() {
        return Err(ConfigError::Invalid {
            key: "groups.offsets_retention_check_interval".into(),
            reason: "must be positive".into(),
        });
    }
    cluster.validate().map_err(|reason| ConfigError::Invalid { key: "cluster".into(), reason })?;
    if file.monitor.intervals < 2 {
        return Err(ConfigError::Invalid { key: "monitor.intervals".into(), reason: "must be at least 2".into() });
    }
    if !matches!(file.monitor.burrow_rules.as_str(), "1.3.7" | "1.2.1") {
        return Err(ConfigError::Invalid {
            key: "monitor.burrow_rules".into(),
            reason: format!("'{}' is not \"1.3.7\" or \"1.2.1\"", file.monitor.burrow_rules),
        });
    }
    if file.monitor.sample_interval.is_zero() {
        return Err(ConfigError::Invalid { key: "monitor.sample_interval".into(), reason: "must be positive".into() });
    }
    crate::alerts::validate(&file.alerts).map_err(|e| ConfigError::Invalid { key: e.key, reason: e.reason })?;

    let kafka_listen = parse_addr("--kafka-listen", flags.kafka_listen.as_deref().unwrap_or("127.0.0.1:9092"))?;
    let http_text = flags.http_listen.clone().or(file.http.listen.clone()).unwrap_or_else(|| "127.0.0.1:8080".into());
    let http_listen = parse_addr("http.listen", &http_text)?;
    if kafka_listen.port() != 0 && u32::from(kafka_listen.port()) + brokers as u32 - 1 > u32::from(u16::MAX) {
        return Err(ConfigError::Invalid {
            key: "--kafka-listen".into(),
            reason: format!("ports {}+{brokers} pass 65535", kafka_listen.port()),
        });
    }
    let admin_token = flags.admin_token.clone().or(file.http.admin_token.clone()).filter(|t| !t.is_empty());
    let embedded = file.cluster.embedded.unwrap_or(true);
    if !embedded && file.clusters.is_empty() {
        return Err(ConfigError::Invalid {
            key: "cluster.embedded".into(),
            reason: "with no embedded cluster, configure at least one [[clusters]] entry to monitor".into(),
        });
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, c) in file.clusters.iter().enumerate() {
        if c.name.is_empty() || (embedded && c.name == cluster.name) || !names.insert(c.name.clone()) {
            return Err(ConfigError::Invalid {
                key: format!("clusters[{i}].name"),
                reason: format!("'{}' must be non-empty and differ from every other cluster's name", c.name),
            });
        }
        if c.bootstrap_servers.is_empty() {
            return Err(ConfigError::Invalid {
                key: format!("clusters[{i}].bootstrap_servers"),
                reason: "is empty".into(),
            });
        }
    }
    crate::security::check_section(&file.security).map_err(|(key, reason)| ConfigError::Invalid { key, reason })?;
    for (i, c) in file.clusters.iter().enumerate() {
        crate::security::check_cluster(c)
            .map_err(|(key, reason)| ConfigError::Invalid { key: format!("clusters[{i}].{key}"), reason })?;
    }
    let mut streams: Vec<crate::streams::JobSpec> = Vec::new();
    for (i, section) in file.streams.iter().enumerate() {
        let spec = crate::streams::JobSpec::from_section(section, &cluster.name, embedded, &file.clusters)
            .map_err(|(key, reason)| ConfigError::Invalid { key: format!("streams[{i}].{key}"), reason })?;
        if streams.iter().any(|s| s.name == spec.name) {
            return Err(ConfigError::Invalid {
                key: format!("streams[{i}].name"),
                reason: format!("'{}' names another job too", spec.name),
            });
        }
        streams.push(spec);
    }
    if flags.demo {
        for spec in crate::demo::demo_streams(&cluster.name) {
            if !streams.iter().any(|s| s.name == spec.name) {
                streams.push(spec);
            }
        }
    }
    let connect_listen = match file.connect.enabled.unwrap_or(embedded) {
        false => None,
        true if !embedded => {
            return Err(ConfigError::Invalid {
                key: "connect.enabled".into(),
                reason: "the Connect worker runs on the embedded cluster, and it is off".into(),
            })
        }
        true => {
            let text = flags.connect_listen.clone().or(file.connect.listen.clone());
            Some(parse_addr("connect.listen", text.as_deref().unwrap_or("127.0.0.1:8083"))?)
        }
    };
    if !embedded && flags.demo {
        return Err(ConfigError::Invalid {
            key: "--demo".into(),
            reason: "the demo needs the embedded cluster".into(),
        });
    }
    Ok(Config {
        cluster,
        kafka_listen,
        http_listen,
        read_only: flags.read_only || file.http.read_only.unwrap_or(false),
        admin_token,
        demo: flags.demo,
        monitor: file.monitor,
        metrics: file.metrics,
        external_clusters: file.clusters,
        alerts: file.alerts,
        hostname: "localhost".into(),
        embedded,
        allowed_hosts: file.http.allowed_hosts.clone().unwrap_or_else(|| default_allowed_hosts(&http_listen)),
        security: file.security,
        streams,
        connect_listen,
    })
}

/// The default `[http] allowed_hosts`: the listen address's host (unless it is a wildcard),
/// `localhost`, `127.0.0.1` and `::1`.
pub fn default_allowed_hosts(listen: &SocketAddr) -> Vec<String> {
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if !listen.ip().is_unspecified() && !hosts.contains(&listen.ip().to_string()) {
        hosts.push(listen.ip().to_string());
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = resolve(None, &[], &Flags::default()).expect("defaults");
        assert_eq!(c.cluster.brokers, 3);
        assert_eq!(c.cluster.default_replication_factor, 3);
        assert_eq!(c.kafka_listen.to_string(), "127.0.0.1:9092");
        assert_eq!(c.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.cluster.flush_interval, Duration::from_secs(1));
        assert_eq!(c.cluster.log.segment_bytes, 1 << 30);
        assert_eq!(c.monitor.sample_interval, Duration::from_secs(10));
        assert_eq!(c.cluster.data_dir, PathBuf::from("./warren-data"));
        let one = resolve(None, &[], &Flags { brokers: Some(1), ..Flags::default() }).expect("one broker");
        assert_eq!(one.cluster.default_replication_factor, 1);
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        let file = "[cluster]\nbrokers = 5\nname = \"file\"\n[log]\nflush_interval = \"0s\"\n[monitor]\nsample_interval = \"2s\"\n";
        let c = resolve(
            Some(file),
            &env(&[("WARREN_CLUSTER__NAME", "env"), ("WARREN_MONITOR__SAMPLE_INTERVAL", "1s")]),
            &Flags::default(),
        )
        .expect("resolve");
        assert_eq!(c.cluster.brokers, 5);
        assert_eq!(c.cluster.name, "env");
        assert!(c.cluster.flush_interval.is_zero());
        assert_eq!(c.monitor.sample_interval, Duration::from_secs(1));
        let c = resolve(
            Some(file),
            &env(&[("WARREN_CLUSTER__BROKERS", "4")]),
            &Flags { brokers: Some(2), ..Flags::default() },
        )
        .expect("resolve");
        assert_eq!(c.cluster.brokers, 2);
    }

    #[test]
    fn errors_name_the_offending_key() {
        let check = |file: Option<&str>, env_pairs: &[(&str, &str)], needle: &str| {
            let err = resolve(file, &env(env_pairs), &Flags::default()).expect_err("must fail").to_string();
            assert!(err.contains(needle), "error {err:?} should name {needle:?}");
        };
        check(Some("[log]\nsegement_bytes = 10\n"), &[], "segement_bytes");
        check(Some("[clutser]\nname = \"x\"\n"), &[], "clutser");
        check(None, &[("WARREN_MONITOR__SAMPLE_INTERVALL", "1s")], "sample_intervall");
        check(Some("[monitor]\nsample_interval = \"10 parsecs\"\n"), &[], "10 parsecs");
        check(Some("[cluster]\nbrokers = 12\n"), &[], "brokers");
        check(Some("[[alerts.rules]]\nname = \"x\"\nkind = \"group_status\"\nfoo = 1\n"), &[], "foo");
    }

    #[test]
    fn durations() {
        for (text, ms) in
            [("500ms", 500), ("10s", 10_000), ("5m", 300_000), ("2h", 7_200_000), ("7d", 604_800_000), ("0s", 0)]
        {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        for bad in ["", "10", "s", "1.5s", "10x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn alert_sections_parse() {
        let file = r#"
[[alerts.receivers]]
name = "ops"
kind = "alertmanager"
url = "http://127.0.0.1:9000/hook"
hmac_secret = "s3cret"
headers = { "X-Team" = "kafka" }

[[alerts.rules]]
name = "group-error"
kind = "group_status"
status = "ERR"
for = "30s"
repeat_interval = "4h"
groups = ".*"
receivers = ["ops"]

[[clusters]]
name = "prod"
bootstrap_servers = ["k1:9092"]
"#;
        let c = resolve(Some(file), &[], &Flags::default()).expect("resolve");
        assert_eq!(c.alerts.rules[0].for_duration, Some(Duration::from_secs(30)));
        assert_eq!(c.alerts.receivers[0].headers.get("X-Team").map(String::as_str), Some("kafka"));
        assert_eq!(c.external_clusters[0].bootstrap_servers, vec!["k1:9092".to_string()]);
    }

    #[test]
    fn security_keys_parse_check_and_never_print() {
        let file = r#"
[security]
protocol = "SASL_SSL"
ssl_certificate = "server.pem"
ssl_key = "server-key.pem"
sasl_mechanisms = ["SCRAM-SHA-512", "PLAIN"]
super_users = ["admin"]

[[security.users]]
name = "alice"
password = "alice-secret"

[[clusters]]
name = "prod"
bootstrap_servers = ["b-1.example:9096"]
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "monitor"
sasl_password = "in-the-file"
"#;
        // The password comes from the environment (the file's is replaced), matched by name.
        let c = resolve(Some(file), &env(&[("WARREN_CLUSTERS__PROD__SASL_PASSWORD", "from-env")]), &Flags::default())
            .expect("resolve");
        assert_eq!(c.external_clusters[0].sasl_password, Some(Secret("from-env".into())));
        assert_eq!(c.security.protocol.as_deref(), Some("SASL_SSL"));
        let printed = format!("{c:?}");
        assert!(!printed.contains("from-env") && !printed.contains("alice-secret"), "{printed}");

        let check = |file: &str, env_pairs: &[(&str, &str)], needle: &str| {
            let err = resolve(Some(file), &env(env_pairs), &Flags::default()).expect_err("must fail").to_string();
            assert!(err.contains(needle), "error {err:?} should name {needle:?}");
            assert!(!err.contains("alice-secret") && !err.contains("from-env"), "{err}");
        };
        check(&file.replace("\"SASL_SSL\"\nssl_cert", "\"TLS\"\nssl_cert"), &[], "security.protocol");
        check(&file.replace("\"PLAIN\"]", "\"GSSAPI\"]"), &[], "security.sasl_mechanisms");
        check(&file.replace("ssl_key = \"server-key.pem\"\n", ""), &[], "security.ssl_certificate");
        check(&file.replace("password = \"alice-secret\"", "passwd = \"alice-secret\""), &[], "passwd");
        check(
            &file.replace("sasl_mechanism = \"SCRAM-SHA-512\"", "sasl_mechanism = \"OAUTHBEARER\""),
            &[],
            "clusters[0].sasl_mechanism",
        );
        check(&file.replace("sasl_username = \"monitor\"\n", ""), &[], "clusters[0].sasl_username");
        check(
            &file.replace("security_protocol = \"SASL_SSL\"", "security_protocol = \"SASL\""),
            &[],
            "clusters[0].security_protocol",
        );
        check(
            file,
            &[("WARREN_CLUSTERS__STAGING__SASL_PASSWORD", "from-env")],
            "WARREN_CLUSTERS__STAGING__SASL_PASSWORD",
        );
    }

    #[test]
    fn connect_listens_by_default_and_needs_the_embedded_cluster() {
        let c = resolve(None, &[], &Flags::default()).expect("defaults");
        assert_eq!(c.connect_listen.map(|a| a.to_string()).as_deref(), Some("127.0.0.1:8083"));
        let flags = Flags { connect_listen: Some("127.0.0.1:0".into()), ..Flags::default() };
        assert_eq!(
            resolve(Some("[connect]\nlisten = \"127.0.0.1:9\""), &[], &flags)
                .expect("flag")
                .connect_listen
                .map(|a| a.port()),
            Some(0)
        );
        assert_eq!(
            resolve(Some("[connect]\nenabled = false"), &[], &Flags::default()).expect("off").connect_listen,
            None
        );
        let monitor_only =
            "[cluster]\nembedded = false\n[[clusters]]\nname = \"p\"\nbootstrap_servers = [\"k:9092\"]\n";
        assert_eq!(resolve(Some(monitor_only), &[], &Flags::default()).expect("monitor").connect_listen, None);
        let err =
            resolve(Some(&format!("{monitor_only}[connect]\nenabled = true")), &[], &Flags::default()).expect_err("on");
        assert!(err.to_string().contains("connect.enabled"), "{err}");
        let err = resolve(Some("[connect]\nlisten = \"nowhere\""), &[], &Flags::default()).expect_err("bad");
        assert!(err.to_string().contains("connect.listen"), "{err}");
    }
}
