//! The records of Kafka Connect's internal topics, as Kafka's worker writes them, so the topics
//! survive restarts and other tools (and Kafka's own workers) read them: `connect-configs`
//! (connector configs, target states, task configs and their commit), `connect-status`
//! (connector and task states) and `connect-offsets` (source connectors' offsets, key
//! `["<connector>",{partition}]`, value `{offset}`). Keys of the first two are plain strings;
//! every value is JSON without a schema envelope, compact; a null value is a tombstone.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

/// What the operator wants of a connector (`target-state-<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

impl TargetState {
    pub fn name(self) -> &'static str {
        match self {
            TargetState::Started => "STARTED",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        }
    }

    fn parse(name: &str) -> Option<TargetState> {
        match name {
            "STARTED" => Some(TargetState::Started),
            "PAUSED" => Some(TargetState::Paused),
            "STOPPED" => Some(TargetState::Stopped),
            _ => None,
        }
    }
}

/// One record of `connect-configs`, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigRecord {
    /// `connector-<name>`: its config, or deleted (a tombstone).
    Connector { name: String, config: Option<BTreeMap<String, String>> },
    /// `target-state-<name>`.
    TargetState { name: String, state: Option<TargetState> },
    /// `task-<name>-<n>`.
    Task { name: String, task: u32, config: Option<BTreeMap<String, String>> },
    /// `commit-<name>`: the task configs written before it take effect.
    Commit { name: String, tasks: u32 },
    /// A key this worker does not use (session keys, restart requests, log levels).
    Other,
}

fn properties(config: &BTreeMap<String, String>) -> Vec<u8> {
    json!({ "properties": config }).to_string().into_bytes()
}

fn read_properties(value: &Json) -> Option<BTreeMap<String, String>> {
    let props = value.get("properties")?.as_object()?;
    Some(props.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
}

impl ConfigRecord {
    /// The record's key and value (None: a tombstone).
    pub fn encode(&self) -> Option<(String, Option<Vec<u8>>)> {
        Some(match self {
            ConfigRecord::Connector { name, config } => (format!("connector-{name}"), config.as_ref().map(properties)),
            ConfigRecord::TargetState { name, state } => (
                format!("target-state-{name}"),
                state.map(|s| {
                    // `state` stays PAUSED for STOPPED, for workers before 3.5; `state.v2` is the truth.
                    let legacy = if s == TargetState::Stopped { "PAUSED" } else { s.name() };
                    json!({ "state": legacy, "state.v2": s.name() }).to_string().into_bytes()
                }),
            ),
            ConfigRecord::Task { name, task, config } => {
                (format!("task-{name}-{task}"), config.as_ref().map(properties))
            }
            ConfigRecord::Commit { name, tasks } => {
                (format!("commit-{name}"), Some(json!({ "tasks": tasks }).to_string().into_bytes()))
            }
            ConfigRecord::Other => return None,
        })
    }

    /// A record read back; what does not decode is `Other`.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> ConfigRecord {
        let Ok(key) = std::str::from_utf8(key) else { return ConfigRecord::Other };
        let json: Option<Json> = match value {
            Some(v) => match serde_json::from_slice(v) {
                Ok(json) => Some(json),
                Err(_) => return ConfigRecord::Other,
            },
            None => None,
        };
        if let Some(name) = key.strip_prefix("connector-") {
            let config = match &json {
                Some(j) => match read_properties(j) {
                    Some(c) => Some(c),
                    None => return ConfigRecord::Other,
                },
                None => None,
            };
            return ConfigRecord::Connector { name: name.to_string(), config };
        }
        if let Some(name) = key.strip_prefix("target-state-") {
            let state = match &json {
                Some(j) => {
                    let name = j.get("state.v2").or_else(|| j.get("state")).and_then(Json::as_str).unwrap_or_default();
                    match TargetState::parse(name) {
                        Some(s) => Some(s),
                        None => return ConfigRecord::Other,
                    }
                }
                None => None,
            };
            return ConfigRecord::TargetState { name: name.to_string(), state };
        }
        if let Some(rest) = key.strip_prefix("task-") {
            // The task number follows the last '-': connector names may hold dashes.
            let Some((name, task)) = rest.rsplit_once('-') else { return ConfigRecord::Other };
            let Ok(task) = task.parse() else { return ConfigRecord::Other };
            let config = json.as_ref().and_then(read_properties);
            return ConfigRecord::Task { name: name.to_string(), task, config };
        }
        if let Some(name) = key.strip_prefix("commit-") {
            let tasks = json.as_ref().and_then(|j| j.get("tasks")).and_then(Json::as_u64);
            return match tasks.and_then(|t| u32::try_from(t).ok()) {
                Some(tasks) => ConfigRecord::Commit { name: name.to_string(), tasks },
                None => ConfigRecord::Other,
            };
        }
        ConfigRecord::Other
    }
}

/// A connector's or task's state in `connect-status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    pub state: String,
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: i32,
}

/// `status-connector-<name>` or `status-task-<name>-<n>`.
pub fn status_key(connector: &str, task: Option<u32>) -> String {
    match task {
        None => format!("status-connector-{connector}"),
        Some(n) => format!("status-task-{connector}-{n}"),
    }
}

impl StatusRecord {
    pub fn encode(&self) -> Vec<u8> {
        json!({ "state": self.state, "trace": self.trace, "worker_id": self.worker_id, "generation": self.generation })
            .to_string()
            .into_bytes()
    }

    pub fn decode(value: &[u8]) -> Option<StatusRecord> {
        let j: Json = serde_json::from_slice(value).ok()?;
        Some(StatusRecord {
            state: j.get("state")?.as_str()?.to_string(),
            trace: j.get("trace").and_then(Json::as_str).map(str::to_string),
            worker_id: j.get("worker_id")?.as_str()?.to_string(),
            generation: j.get("generation").and_then(Json::as_i64).and_then(|g| i32::try_from(g).ok()).unwrap_or(0),
        })
    }
}

/// A source partition or offset: a flat map of primitive JSON values.
pub type OffsetMap = serde_json::Map<String, Json>;

/// The `connect-offsets` key of a connector's source partition: `["<connector>",{partition}]`,
/// compact, as Kafka compares keys byte for byte (readers should compare decoded keys).
pub fn offset_key(connector: &str, partition: &OffsetMap) -> Vec<u8> {
    Json::Array(vec![Json::String(connector.to_string()), Json::Object(partition.clone())]).to_string().into_bytes()
}

/// A `connect-offsets` key read back: the connector and its partition map.
pub fn decode_offset_key(key: &[u8]) -> Option<(String, OffsetMap)> {
    match serde_json::from_slice::<Json>(key).ok()? {
        Json::Array(items) => match items.as_slice() {
            [Json::String(connector), Json::Object(partition)] => Some((connector.clone(), partition.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// A `connect-offsets` value: the offset map, or None for a tombstone.
pub fn offset_value(offset: Option<&OffsetMap>) -> Option<Vec<u8>> {
    offset.map(|o| Json::Object(o.clone()).to_string().into_bytes())
}

pub fn decode_offset_value(value: Option<&[u8]>) -> Option<OffsetMap> {
    match serde_json::from_slice::<Json>(value?).ok()? {
        Json::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_records_round_trip_in_kafkas_layout() {
        let config: BTreeMap<String, String> =
            [("connector.class", "FileStreamSource"), ("name", "my-src"), ("topic", "t")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let records = [
            ConfigRecord::Connector { name: "my-src".into(), config: Some(config.clone()) },
            ConfigRecord::Connector { name: "my-src".into(), config: None },
            ConfigRecord::TargetState { name: "my-src".into(), state: Some(TargetState::Stopped) },
            ConfigRecord::TargetState { name: "my-src".into(), state: None },
            ConfigRecord::Task { name: "my-src".into(), task: 3, config: Some(config.clone()) },
            ConfigRecord::Commit { name: "my-src".into(), tasks: 4 },
        ];
        for record in records {
            let (key, value) = record.encode().expect("encodes");
            assert_eq!(ConfigRecord::decode(key.as_bytes(), value.as_deref()), record, "{key}");
        }
        let (key, value) =
            ConfigRecord::TargetState { name: "x".into(), state: Some(TargetState::Stopped) }.encode().expect("state");
        assert_eq!(
            (key.as_str(), value.as_deref()),
            ("target-state-x", Some(&br#"{"state":"PAUSED","state.v2":"STOPPED"}"#[..]))
        );
        let (_, value) = ConfigRecord::Commit { name: "x".into(), tasks: 2 }.encode().expect("commit");
        assert_eq!(value.as_deref(), Some(&br#"{"tasks":2}"#[..]));
        // An older worker's target state, and keys this worker does not use.
        assert_eq!(
            ConfigRecord::decode(b"target-state-x", Some(br#"{"state":"PAUSED"}"#)),
            ConfigRecord::TargetState { name: "x".into(), state: Some(TargetState::Paused) }
        );
        for (key, value) in [
            (&b"session-key"[..], &b"{}"[..]),
            (b"task-x-notanumber", b"{}"),
            (b"connector-x", b"[1]"),
            (b"commit-x", b"{}"),
            (b"\xff", b"{}"),
        ] {
            assert_eq!(ConfigRecord::decode(key, Some(value)), ConfigRecord::Other, "{key:?}");
        }
    }

    #[test]
    fn status_and_offsets_as_kafka_writes_them() {
        let status = StatusRecord {
            state: "FAILED".into(),
            trace: Some("boom".into()),
            worker_id: "127.0.0.1:8083".into(),
            generation: 0,
        };
        assert_eq!(StatusRecord::decode(&status.encode()), Some(status));
        assert_eq!(status_key("a-b", Some(2)), "status-task-a-b-2");
        assert_eq!(status_key("a", None), "status-connector-a");
        let mut partition = OffsetMap::new();
        partition.insert("filename".into(), Json::String("/tmp/test.txt".into()));
        let key = offset_key("local-file-source", &partition);
        assert_eq!(key, br#"["local-file-source",{"filename":"/tmp/test.txt"}]"#.to_vec());
        assert_eq!(decode_offset_key(&key), Some(("local-file-source".to_string(), partition)));
        let mut offset = OffsetMap::new();
        offset.insert("position".into(), Json::from(20));
        let value = offset_value(Some(&offset)).expect("value");
        assert_eq!(value, br#"{"position":20}"#.to_vec());
        assert_eq!(decode_offset_value(Some(&value)), Some(offset));
        assert_eq!(offset_value(None), None, "a tombstone");
        assert_eq!(decode_offset_key(b"{\"not\":\"an array\"}"), None);
        assert_eq!(decode_offset_value(Some(b"[]")), None);
    }

    /// Every decoder of bytes that come from the cluster (anyone may produce to these topics or
    /// to a sink's topics) answers garbage without panicking: random bytes, and mutations of
    /// valid records. `server/fuzz` runs the same under libFuzzer.
    #[test]
    fn decoders_take_garbage_without_panicking() {
        use crate::connect::converter::Converter;
        let valid: Vec<&[u8]> = vec![
            br#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"a"}],"optional":false},"payload":{"id":1,"a":"MDk="}}"#,
            br#"{"properties":{"connector.class":"x"}}"#,
            br#"["c",{"filename":"/tmp/x"}]"#,
            br#"{"state":"RUNNING","trace":null,"worker_id":"w","generation":1}"#,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let converters = [
            Converter::Json { schemas_enable: true },
            Converter::Json { schemas_enable: false },
            Converter::String,
            Converter::ByteArray,
        ];
        for round in 0..4000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                (0..next() % 64).map(|_| next() as u8).collect()
            } else {
                let mut b = valid[(next() % valid.len() as u64) as usize].to_vec();
                for _ in 0..1 + next() % 4 {
                    let i = (next() % b.len() as u64) as usize;
                    b[i] = next() as u8;
                }
                b
            };
            for c in &converters {
                let _ = c.to_connect(Some(&bytes));
            }
            let _ = ConfigRecord::decode(&bytes, Some(&bytes));
            let _ = StatusRecord::decode(&bytes);
            let _ = decode_offset_key(&bytes);
            let _ = decode_offset_value(Some(&bytes));
        }
    }
}
