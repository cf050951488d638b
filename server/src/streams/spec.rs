//! A stream job's definition, checked: what `[[streams]]` asked for, in the shapes the runtime
//! uses. Every mistake names its key (`window.size`, `join.kind`) and says what would do.
//!
//! Rules beyond the types: a window needs an aggregation and an aggregation a window; `sum`,
//! `min`, `max` and `avg` need a `field`; `emit = "final"` needs an explicit `grace` (no 24 h
//! default as Kafka Streams once had), every other job's grace defaults to 0; hopping windows
//! advance by at most their size; a job aggregates or joins, not both.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::window::Windows;
use crate::config::ExternalCluster;

/// `[[streams]]`: one stream-processing job, as written in the config file; `JobSpec` checks it.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StreamsSection {
    pub name: String,
    pub cluster: Option<String>,
    #[serde(default)]
    pub source: Vec<String>,
    pub filter: Option<StreamsFilter>,
    pub key: Option<String>,
    pub window: Option<StreamsWindow>,
    pub aggregate: Option<String>,
    pub field: Option<String>,
    pub emit: Option<String>,
    #[serde(default)]
    pub sink: String,
    pub key_format: Option<String>,
    pub join: Option<StreamsJoin>,
    pub processing_guarantee: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamsFilter {
    pub pointer: String,
    pub equals: Option<toml::Value>,
    pub not_equals: Option<toml::Value>,
    pub exists: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamsWindow {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "crate::config::opt_duration")]
    pub size: Option<Duration>,
    #[serde(default, deserialize_with = "crate::config::opt_duration")]
    pub advance: Option<Duration>,
    #[serde(default, deserialize_with = "crate::config::opt_duration")]
    pub difference: Option<Duration>,
    #[serde(default, deserialize_with = "crate::config::opt_duration")]
    pub gap: Option<Duration>,
    #[serde(default, deserialize_with = "crate::config::opt_duration")]
    pub grace: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamsJoin {
    pub table: Option<String>,
    pub global_table: Option<String>,
    pub kind: Option<String>,
    pub key: Option<String>,
}

/// `(key, reason)`: what is wrong with a job's configuration.
pub type SpecError = (String, String);

/// How a numeric aggregation reads its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

impl Aggregate {
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Avg => "avg",
        }
    }
}

/// `filter = { pointer, equals | not_equals | exists }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub pointer: String,
    pub test: FilterTest,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FilterTest {
    Equals(Value),
    NotEquals(Value),
    Exists(bool),
}

/// What a stream record is joined with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Table {
    /// A KTable: partition p of the table serves partition p of the stream (co-partitioned).
    Partitioned(String),
    /// A GlobalKTable: every partition, looked up by the value at `key` (the stream key when
    /// `None`).
    Global { topic: String, key: Option<String> },
}

impl Table {
    pub fn topic(&self) -> &str {
        match self {
            Table::Partitioned(t) | Table::Global { topic: t, .. } => t,
        }
    }
}

/// The stateful step of a job, if any.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Filter and re-key only.
    Pass,
    Aggregate {
        windows: Windows,
        aggregate: Aggregate,
        field: Option<String>,
        emit_final: bool,
    },
    Join {
        table: Table,
        left: bool,
    },
}

/// How a windowed result's key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `{"key": K, "start": ms, "end": ms}`.
    Json,
    /// Kafka Streams' windowed serdes: key + 8-byte big-endian start (sessions: key + end + start).
    Windowed,
}

/// One checked `[[streams]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Kafka Streams' `application.id`: the group, and the prefix of the internal topics.
    pub name: String,
    /// The cluster it runs against: the embedded one, or a `[[clusters]]` entry.
    pub cluster: String,
    /// True when `cluster` is the embedded cluster.
    pub embedded: bool,
    pub sources: Vec<String>,
    pub filter: Option<Filter>,
    /// A JSON pointer into the value that becomes the record's key (through a repartition topic).
    pub rekey: Option<String>,
    pub operation: Operation,
    pub sink: String,
    pub key_format: KeyFormat,
    pub exactly_once: bool,
}

fn err<T>(key: &str, reason: impl Into<String>) -> Result<T, SpecError> {
    Err((key.to_string(), reason.into()))
}

/// A Kafka topic name (which internal topics built from the job's name must also be).
fn legal_topic(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn pointer(key: &str, text: &str) -> Result<String, SpecError> {
    if text.is_empty() || text.starts_with('/') {
        Ok(text.to_string())
    } else {
        err(key, format!("'{text}' is not a JSON pointer (like \"/user\")"))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn to_json(value: &toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn windows(w: &StreamsWindow, emit_final: bool) -> Result<Windows, SpecError> {
    let grace = match w.grace {
        Some(g) => millis(g),
        None if emit_final => {
            return err("window.grace", "is required with emit = \"final\" (how long late records are admitted)")
        }
        None => 0,
    };
    let positive = |key: &str, d: Option<Duration>| -> Result<i64, SpecError> {
        match d {
            Some(d) if !d.is_zero() => Ok(millis(d)),
            Some(_) => err(key, "must be positive"),
            None => err(key, format!("is required for {} windows", w.kind)),
        }
    };
    let unused = |pairs: &[(&str, Option<Duration>)]| -> Result<(), SpecError> {
        match pairs.iter().find(|(_, v)| v.is_some()) {
            Some((k, _)) => err(k, format!("does not apply to {} windows", w.kind)),
            None => Ok(()),
        }
    };
    match w.kind.as_str() {
        "tumbling" => {
            unused(&[("window.advance", w.advance), ("window.difference", w.difference), ("window.gap", w.gap)])?;
            let size = positive("window.size", w.size)?;
            Ok(Windows::Time { size, advance: size, grace })
        }
        "hopping" => {
            unused(&[("window.difference", w.difference), ("window.gap", w.gap)])?;
            let size = positive("window.size", w.size)?;
            let advance = positive("window.advance", w.advance)?;
            if advance > size {
                return err("window.advance", "must not exceed window.size");
            }
            Ok(Windows::Time { size, advance, grace })
        }
        "sliding" => {
            unused(&[("window.size", w.size), ("window.advance", w.advance), ("window.gap", w.gap)])?;
            Ok(Windows::Sliding { difference: positive("window.difference", w.difference)?, grace })
        }
        "session" => {
            unused(&[("window.size", w.size), ("window.advance", w.advance), ("window.difference", w.difference)])?;
            Ok(Windows::Session { gap: positive("window.gap", w.gap)?, grace })
        }
        other => err("window.type", format!("'{other}' is not tumbling, hopping, sliding or session")),
    }
}

/// Job `name`'s window store changelog (the store named as Kafka Streams would name it).
fn changelog_topic(name: &str) -> String {
    format!("{name}-aggregate-store-changelog")
}

/// Job `name`'s repartition topic.
fn repartition_topic(name: &str) -> String {
    format!("{name}-rekey-repartition")
}

impl JobSpec {
    /// Checks one `[[streams]]` entry. `local` is the embedded cluster's name (when `embedded`).
    pub fn from_section(
        s: &StreamsSection,
        local: &str,
        embedded: bool,
        clusters: &[ExternalCluster],
    ) -> Result<JobSpec, SpecError> {
        if !legal_topic(&s.name) {
            return err("name", format!("'{}' must be a legal topic name: letters, digits, '.', '_', '-'", s.name));
        }
        let (cluster, is_local) = match s.cluster.as_deref() {
            None if embedded => (local.to_string(), true),
            None => return err("cluster", "is required without the embedded cluster"),
            Some(c) if embedded && (c == local || c == "local") => (local.to_string(), true),
            Some(c) if clusters.iter().any(|e| e.name == c) => (c.to_string(), false),
            Some(c) => {
                return err("cluster", format!("'{c}' is neither the embedded cluster nor a [[clusters]] entry"))
            }
        };
        if s.source.is_empty() {
            return err("source", "names no topic");
        }
        if let Some(t) = s.source.iter().find(|t| !legal_topic(t)) {
            return err("source", format!("'{t}' is not a legal topic name"));
        }
        if !legal_topic(&s.sink) {
            return err("sink", format!("'{}' is not a legal topic name", s.sink));
        }
        if s.source.contains(&s.sink) {
            return err("sink", "must differ from every source topic");
        }
        if let Some(t) = s.source.iter().enumerate().find_map(|(i, t)| s.source[..i].contains(t).then_some(t)) {
            return err("source", format!("names '{t}' twice"));
        }
        let internal = [repartition_topic(&s.name), changelog_topic(&s.name)];
        if internal.contains(&s.sink) {
            return err("sink", "must not be one of the job's own internal topics");
        }
        let filter = match &s.filter {
            None => None,
            Some(f) => {
                let tests = [
                    f.equals.as_ref().map(|v| FilterTest::Equals(to_json(v))),
                    f.not_equals.as_ref().map(|v| FilterTest::NotEquals(to_json(v))),
                    f.exists.map(FilterTest::Exists),
                ];
                let mut given = tests.into_iter().flatten();
                let (Some(test), None) = (given.next(), given.next()) else {
                    return err("filter", "needs exactly one of equals, not_equals or exists");
                };
                Some(Filter { pointer: pointer("filter.pointer", &f.pointer)?, test })
            }
        };
        let rekey = s.key.as_deref().map(|k| pointer("key", k)).transpose()?;
        let emit_final = match s.emit.as_deref() {
            None | Some("updates") => false,
            Some("final") => true,
            Some(other) => return err("emit", format!("'{other}' is not \"updates\" or \"final\"")),
        };
        let operation = match (&s.window, &s.join) {
            (Some(_), Some(_)) => return err("join", "a job either aggregates over a window or joins, not both"),
            (Some(w), None) => {
                let aggregate = match s.aggregate.as_deref() {
                    None | Some("count") => Aggregate::Count,
                    Some("sum") => Aggregate::Sum,
                    Some("min") => Aggregate::Min,
                    Some("max") => Aggregate::Max,
                    Some("avg") => Aggregate::Avg,
                    Some(other) => return err("aggregate", format!("'{other}' is not count, sum, min, max or avg")),
                };
                let field = s.field.as_deref().map(|f| pointer("field", f)).transpose()?;
                if aggregate != Aggregate::Count && field.is_none() {
                    return err("field", format!("{} needs the JSON pointer of a number", aggregate.name()));
                }
                Operation::Aggregate { windows: windows(w, emit_final)?, aggregate, field, emit_final }
            }
            (None, Some(j)) => {
                let left = match j.kind.as_deref() {
                    None | Some("inner") => false,
                    Some("left") => true,
                    Some(other) => return err("join.kind", format!("'{other}' is not \"inner\" or \"left\"")),
                };
                let table = match (&j.table, &j.global_table) {
                    (Some(t), None) => {
                        if j.key.is_some() {
                            return err("join.key", "applies to a global_table; re-key the stream with `key`");
                        }
                        Table::Partitioned(t.clone())
                    }
                    (None, Some(t)) => Table::Global {
                        topic: t.clone(),
                        key: j.key.as_deref().map(|k| pointer("join.key", k)).transpose()?,
                    },
                    _ => return err("join", "needs exactly one of table or global_table"),
                };
                if !legal_topic(table.topic()) {
                    return err("join", format!("'{}' is not a legal topic name", table.topic()));
                }
                if s.source.iter().any(|t| t == table.topic()) || s.sink == table.topic() {
                    return err("join", format!("the table '{}' must be neither a source nor the sink", table.topic()));
                }
                Operation::Join { table, left }
            }
            (None, None) => {
                if s.aggregate.is_some() || s.field.is_some() {
                    return err("aggregate", "needs a window");
                }
                Operation::Pass
            }
        };
        if emit_final && !matches!(operation, Operation::Aggregate { .. }) {
            return err("emit", "applies to windowed aggregations");
        }
        let key_format = match s.key_format.as_deref() {
            None | Some("json") => KeyFormat::Json,
            Some("windowed") => KeyFormat::Windowed,
            Some(other) => return err("key_format", format!("'{other}' is not \"json\" or \"windowed\"")),
        };
        let exactly_once = match s.processing_guarantee.as_deref() {
            None | Some("at_least_once") => false,
            Some("exactly_once_v2") => true,
            Some(other) => {
                return err(
                    "processing_guarantee",
                    format!("'{other}' is not \"at_least_once\" or \"exactly_once_v2\""),
                )
            }
        };
        Ok(JobSpec {
            name: s.name.clone(),
            cluster,
            embedded: is_local,
            sources: s.source.clone(),
            filter,
            rekey,
            operation,
            sink: s.sink.clone(),
            key_format,
            exactly_once,
        })
    }

    /// The compacted changelog of the window store, for aggregations.
    pub fn changelog_topic(&self) -> Option<String> {
        matches!(self.operation, Operation::Aggregate { .. }).then(|| changelog_topic(&self.name))
    }

    /// The repartition topic records go through when `key` changes their key.
    pub fn repartition_topic(&self) -> Option<String> {
        self.rekey.as_ref().map(|_| repartition_topic(&self.name))
    }

    /// The topology as Kafka Streams draws it, node by node, for the pages.
    pub fn topology(&self) -> Vec<(String, String)> {
        let mut nodes = vec![("source".to_string(), self.sources.join(", "))];
        if let Some(f) = &self.filter {
            let test = match &f.test {
                FilterTest::Equals(v) => format!("== {v}"),
                FilterTest::NotEquals(v) => format!("!= {v}"),
                FilterTest::Exists(true) => "exists".to_string(),
                FilterTest::Exists(false) => "is absent".to_string(),
            };
            nodes.push(("filter".to_string(), format!("{} {test}", f.pointer)));
        }
        if let (Some(k), Some(topic)) = (&self.rekey, self.repartition_topic()) {
            nodes.push(("re-key".to_string(), format!("by {k} through {topic}")));
        }
        match &self.operation {
            Operation::Pass => {}
            Operation::Aggregate { windows, aggregate, field, emit_final } => {
                let window = match windows {
                    Windows::Time { size, advance, grace } if size == advance => {
                        format!("tumbling {size} ms, grace {grace} ms")
                    }
                    Windows::Time { size, advance, grace } => {
                        format!("hopping {size} ms every {advance} ms, grace {grace} ms")
                    }
                    Windows::Sliding { difference, grace } => format!("sliding {difference} ms, grace {grace} ms"),
                    Windows::Session { gap, grace } => format!("session gap {gap} ms, grace {grace} ms"),
                };
                nodes.push(("window".to_string(), window));
                let of = field.as_deref().map(|f| format!(" of {f}")).unwrap_or_default();
                let emit = if *emit_final { "final" } else { "updates" };
                let changelog = self.changelog_topic().unwrap_or_default();
                nodes.push((
                    "aggregate".to_string(),
                    format!("{}{of}, emit {emit}, state in {changelog}", aggregate.name()),
                ));
            }
            Operation::Join { table, left } => {
                let kind = if *left { "left join" } else { "join" };
                let with = match table {
                    Table::Partitioned(t) => format!("KTable {t}"),
                    Table::Global { topic, key: Some(k) } => format!("GlobalKTable {topic} on {k}"),
                    Table::Global { topic, key: None } => format!("GlobalKTable {topic}"),
                };
                nodes.push((kind.to_string(), with));
            }
        }
        nodes.push(("sink".to_string(), self.sink.clone()));
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<JobSpec, SpecError> {
        let section: StreamsSection = toml::from_str(toml_text).expect("toml");
        JobSpec::from_section(&section, "local", true, &[])
    }

    fn check_error(toml_text: &str, key: &str, reason_part: &str) {
        let (k, reason) = parse(toml_text).expect_err(toml_text);
        assert_eq!(k, key, "{toml_text}: {reason}");
        assert!(reason.contains(reason_part), "{toml_text}: {reason}");
    }

    const BASE: &str = "name = \"j\"\nsource = [\"in\"]\nsink = \"out\"\n";

    #[test]
    fn the_issue_examples_parse() {
        let spec = parse(&format!(
            "{BASE}filter = {{ pointer = \"/kind\", equals = \"click\" }}\nkey = \"/user\"\n\
             window = {{ type = \"tumbling\", size = \"10s\", grace = \"2s\" }}\naggregate = \"count\"\n\
             key_format = \"windowed\""
        ))
        .expect("windowed");
        assert_eq!(
            spec.operation,
            Operation::Aggregate {
                windows: Windows::Time { size: 10_000, advance: 10_000, grace: 2_000 },
                aggregate: Aggregate::Count,
                field: None,
                emit_final: false
            }
        );
        assert_eq!(spec.filter.as_ref().map(|f| &f.test), Some(&FilterTest::Equals(Value::from("click"))));
        assert_eq!(spec.changelog_topic().as_deref(), Some("j-aggregate-store-changelog"));
        assert_eq!(spec.repartition_topic().as_deref(), Some("j-rekey-repartition"));
        assert_eq!(spec.key_format, KeyFormat::Windowed);
        let join = parse(&format!("{BASE}join = {{ table = \"customers\", kind = \"left\" }}")).expect("join");
        assert_eq!(join.operation, Operation::Join { table: Table::Partitioned("customers".into()), left: true });
        let global = parse(&format!("{BASE}join = {{ global_table = \"countries\", key = \"/country\" }}")).expect("g");
        assert_eq!(
            global.operation,
            Operation::Join {
                table: Table::Global { topic: "countries".into(), key: Some("/country".into()) },
                left: false
            }
        );
        let eos = parse(&format!("{BASE}processing_guarantee = \"exactly_once_v2\"")).expect("eos");
        assert!(eos.exactly_once && eos.embedded && eos.operation == Operation::Pass);
        let session = parse(&format!(
            "{BASE}window = {{ type = \"session\", gap = \"5s\", grace = \"0s\" }}\nemit = \"final\"\n\
             aggregate = \"avg\"\nfield = \"/amount\""
        ))
        .expect("session");
        assert!(matches!(session.operation, Operation::Aggregate { emit_final: true, aggregate: Aggregate::Avg, .. }));
    }

    #[test]
    fn mistakes_name_their_key() {
        check_error(
            &format!("{BASE}window = {{ type = \"tumbling\", size = \"10s\" }}\nemit = \"final\""),
            "window.grace",
            "required",
        );
        check_error(&format!("{BASE}window = {{ type = \"hopping\", size = \"10s\" }}"), "window.advance", "required");
        check_error(
            &format!("{BASE}window = {{ type = \"hopping\", size = \"10s\", advance = \"20s\" }}"),
            "window.advance",
            "exceed",
        );
        check_error(&format!("{BASE}window = {{ type = \"tumbling\", size = \"0s\" }}"), "window.size", "positive");
        check_error(
            &format!("{BASE}window = {{ type = \"sliding\", size = \"1s\" }}"),
            "window.size",
            "does not apply",
        );
        check_error(&format!("{BASE}window = {{ type = \"weekly\" }}"), "window.type", "not tumbling");
        check_error(
            &format!("{BASE}window = {{ type = \"session\", gap = \"1s\" }}\naggregate = \"sum\""),
            "field",
            "sum",
        );
        check_error(&format!("{BASE}aggregate = \"count\""), "aggregate", "window");
        check_error(&format!("{BASE}emit = \"final\""), "emit", "windowed");
        check_error(&format!("{BASE}emit = \"sometimes\""), "emit", "updates");
        check_error(&format!("{BASE}key = \"user\""), "key", "JSON pointer");
        check_error(&format!("{BASE}filter = {{ pointer = \"/a\" }}"), "filter", "exactly one");
        check_error(&format!("{BASE}join = {{ table = \"t\", global_table = \"g\" }}"), "join", "exactly one");
        check_error(&format!("{BASE}join = {{ table = \"t\", kind = \"outer\" }}"), "join.kind", "inner");
        check_error(&format!("{BASE}processing_guarantee = \"exactly_once\""), "processing_guarantee", "v2");
        check_error(&format!("{BASE}cluster = \"elsewhere\""), "cluster", "neither");
        check_error("name = \"a b\"\nsource = [\"in\"]\nsink = \"out\"", "name", "legal");
        check_error("name = \"j\"\nsource = []\nsink = \"out\"", "source", "no topic");
        check_error("name = \"j\"\nsource = [\"in\"]\nsink = \"in\"", "sink", "differ");
        check_error("name = \"j\"\nsource = [\"in\", \"in\"]\nsink = \"out\"", "source", "twice");
        check_error("name = \"j\"\nsource = [\"in\"]\nsink = \"j-rekey-repartition\"", "sink", "internal");
        check_error(&format!("{BASE}join = {{ table = \"in\" }}"), "join", "neither");
        check_error(&format!("{BASE}join = {{ global_table = \"out\" }}"), "join", "neither");
    }
}
