//! What a connector is to the worker: its class (and the names Kafka also accepts for it), its
//! config keys (for `/connector-plugins/{p}/config/validate`), how its config splits into task
//! configs, and its tasks. A source task polls records with their source partition and offset;
//! a sink task puts records and flushes them before their offsets are committed.
//!
//! Tasks are plain structs behind two traits; the worker's runtime drives them. A task's
//! methods must be cancel-safe: pausing or stopping drops a pending `poll` or `put`, and a task
//! that failed is dropped and made again from its committed offsets.

use std::collections::BTreeMap;
use std::future::Future;

use super::data::{Schema, Value};
use super::topics::OffsetMap;
use super::transforms::ConnectRecord;

/// A connector's or task's config: string keys and values, as Kafka keeps them.
pub type Config = BTreeMap<String, String>;

/// A record a source task produced, before transforms and converters.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// The source partition the offset belongs to (`{"filename": ...}`, `{"protocol":"1","table":...}`);
    /// it may be left empty on a record without an offset.
    pub partition: OffsetMap,
    /// Where the source stands once this record is written (None: nothing to remember). The
    /// records of one poll are written in one transaction, so only the last offset of each
    /// partition in a poll counts.
    pub offset: Option<OffsetMap>,
    pub topic: String,
    pub key_schema: Option<Schema>,
    pub key: Value,
    pub value_schema: Option<Schema>,
    pub value: Value,
    /// Milliseconds since the epoch (None: the time it is written).
    pub timestamp: Option<i64>,
}

impl SourceRecord {
    /// The record as transforms see it, and its source position (partition and offset).
    pub fn into_parts(self) -> (ConnectRecord, Option<(OffsetMap, OffsetMap)>) {
        let record = ConnectRecord {
            topic: self.topic,
            partition: None,
            offset: None,
            timestamp: self.timestamp,
            key_schema: self.key_schema,
            key: self.key,
            value_schema: self.value_schema,
            value: self.value,
        };
        (record, self.offset.map(|o| (self.partition, o)))
    }
}

/// A running source task.
pub trait SourceTask: Send + 'static {
    /// The next records, in order; waits (a second or the connector's poll interval) when there
    /// are none, then answers an empty list. An error fails the task.
    fn poll(&mut self) -> impl Future<Output = anyhow::Result<Vec<SourceRecord>>> + Send;
}

/// A running sink task. Records come with their topic, partition and offset set.
pub trait SinkTask: Send + 'static {
    /// Writes `records` (they may be buffered until `flush`).
    fn put(&mut self, records: Vec<ConnectRecord>) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Makes everything put so far durable; the offsets after it are committed next.
    fn flush(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The committed offsets of a connector's source partitions, as a new source task reads them.
pub type Offsets = BTreeMap<String, (OffsetMap, OffsetMap)>;

/// The committed offset of `partition`, if any.
pub fn offset_of<'a>(offsets: &'a Offsets, partition: &OffsetMap) -> Option<&'a OffsetMap> {
    offsets.get(&partition_key(partition)).map(|(_, o)| o)
}

/// The key [`Offsets`] holds a source partition under: its compact JSON.
pub fn partition_key(partition: &OffsetMap) -> String {
    serde_json::Value::Object(partition.clone()).to_string()
}

/// Records `partition`'s offset in `offsets` (None: removed, as a tombstone does).
pub fn set_offset(offsets: &mut Offsets, partition: OffsetMap, offset: Option<OffsetMap>) {
    let key = partition_key(&partition);
    match offset {
        Some(offset) => {
            offsets.insert(key, (partition, offset));
        }
        None => {
            offsets.remove(&key);
        }
    }
}

/// A config key as `/config/validate` describes it (Kafka's `ConfigKeyInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDef {
    pub name: &'static str,
    /// Kafka's `ConfigDef.Type` name: STRING, INT, LONG, BOOLEAN, LIST, PASSWORD, CLASS.
    pub kind: &'static str,
    /// None: required.
    pub default: Option<&'static str>,
    /// HIGH, MEDIUM or LOW.
    pub importance: &'static str,
    pub documentation: &'static str,
}

impl ConfigDef {
    pub const fn required(name: &'static str, kind: &'static str, documentation: &'static str) -> ConfigDef {
        ConfigDef { name, kind, default: None, importance: "HIGH", documentation }
    }

    pub const fn optional(
        name: &'static str,
        kind: &'static str,
        default: &'static str,
        documentation: &'static str,
    ) -> ConfigDef {
        ConfigDef { name, kind, default: Some(default), importance: "MEDIUM", documentation }
    }
}

/// Problems found in a config, per key, in Kafka's words.
pub type ConfigErrors = BTreeMap<String, Vec<String>>;

/// Adds Kafka's message for a missing required key to `errors` when `config` lacks `key` or
/// holds only blanks there.
pub fn require(config: &Config, key: &str, errors: &mut ConfigErrors) {
    if config.get(key).is_none_or(|v| v.trim().is_empty()) {
        errors
            .entry(key.to_string())
            .or_default()
            .push(format!("Missing required configuration \"{key}\" which has no default value."));
    }
}

/// `key` as a number, with `default` when absent; a value that does not parse is an error
/// recorded under `key`.
pub fn number<T: std::str::FromStr + Copy>(config: &Config, key: &str, default: T, errors: &mut ConfigErrors) -> T {
    match config.get(key).map(|v| v.trim()) {
        None | Some("") => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            errors.entry(key.to_string()).or_default().push(format!(
                "Invalid value {v} for configuration {key}: Not a number of type {}",
                std::any::type_name::<T>()
            ));
            default
        }),
    }
}

/// A comma-separated list, trimmed, blanks dropped (Kafka's LIST type).
pub fn list(config: &Config, key: &str) -> Vec<String> {
    config
        .get(key)
        .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
        .unwrap_or_default()
}

/// Whether a connector brings data in or takes it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Source,
    Sink,
}

impl Kind {
    /// As Kafka's REST API writes it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Sink => "sink",
        }
    }
}

/// The connectors warren has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    FileSource,
    FileSink,
    JdbcSource,
    JdbcSink,
}

/// The version `/connector-plugins` reports: the Kafka release whose behaviour warren follows.
pub const VERSION: &str = "3.7.0";

impl Plugin {
    pub const ALL: [Plugin; 4] = [Plugin::FileSink, Plugin::FileSource, Plugin::JdbcSink, Plugin::JdbcSource];

    pub fn class(self) -> &'static str {
        match self {
            Plugin::FileSource => "org.apache.kafka.connect.file.FileStreamSourceConnector",
            Plugin::FileSink => "org.apache.kafka.connect.file.FileStreamSinkConnector",
            Plugin::JdbcSource => "io.confluent.connect.jdbc.JdbcSourceConnector",
            Plugin::JdbcSink => "io.confluent.connect.jdbc.JdbcSinkConnector",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Plugin::FileSource | Plugin::JdbcSource => Kind::Source,
            Plugin::FileSink | Plugin::JdbcSink => Kind::Sink,
        }
    }

    /// The plugin `name` names, as Kafka resolves `connector.class`: the full class name, the
    /// simple name, or the simple name without `Connector` (`FileStreamSource`).
    pub fn find(name: &str) -> Option<Plugin> {
        let name = name.trim();
        Plugin::ALL.into_iter().find(|p| {
            let class = p.class();
            let simple = class.rsplit('.').next().unwrap_or(class);
            name == class || name == simple || Some(name) == simple.strip_suffix("Connector")
        })
    }

    /// The connector's own config keys.
    pub fn config_defs(self) -> &'static [ConfigDef] {
        match self {
            Plugin::FileSource => super::file::SOURCE_CONFIG,
            Plugin::FileSink => super::file::SINK_CONFIG,
            Plugin::JdbcSource => super::jdbc::SOURCE_CONFIG,
            Plugin::JdbcSink => super::jdbc::SINK_CONFIG,
        }
    }

    /// The connector's own checks of `config`.
    pub async fn validate(self, config: &Config) -> ConfigErrors {
        match self {
            Plugin::FileSource => super::file::validate_source(config),
            Plugin::FileSink => super::file::validate_sink(config),
            Plugin::JdbcSource => super::jdbc::validate_source(config).await,
            Plugin::JdbcSink => super::jdbc::validate_sink(config).await,
        }
    }

    /// The task configs for at most `max_tasks` tasks. A file source has one task; a sink has
    /// `max_tasks` (its partitions are shared out); a JDBC source splits its tables.
    pub async fn task_configs(self, config: &Config, max_tasks: usize) -> anyhow::Result<Vec<Config>> {
        let task_class = |class: &str| {
            let mut c = config.clone();
            c.insert("task.class".into(), class.into());
            c
        };
        Ok(match self {
            Plugin::FileSource => vec![task_class("org.apache.kafka.connect.file.FileStreamSourceTask")],
            Plugin::FileSink => vec![task_class("org.apache.kafka.connect.file.FileStreamSinkTask"); max_tasks],
            Plugin::JdbcSource => {
                let mut configs = super::jdbc::source_task_configs(config, max_tasks).await?;
                for c in &mut configs {
                    c.insert("task.class".into(), "io.confluent.connect.jdbc.source.JdbcSourceTask".into());
                }
                configs
            }
            Plugin::JdbcSink => vec![task_class("io.confluent.connect.jdbc.sink.JdbcSinkTask"); max_tasks],
        })
    }
}
