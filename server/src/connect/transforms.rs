//! Single message transforms, configured as Kafka configures them (`transforms=a,b`,
//! `transforms.a.type=org.apache.kafka.connect.transforms.InsertField$Value`,
//! `transforms.a.static.field=...`): InsertField, ReplaceField, ValueToKey, ExtractField
//! (each `$Key` or `$Value` where Kafka has both), TimestampRouter and RegexRouter. Pure: a
//! record in, a record out, or an error in Kafka's words.
//!
//! A record with a schema must hold a Struct and gets a new Struct schema; a schemaless one
//! must hold a map. A null operating value (a tombstone) passes through unchanged.

use std::collections::BTreeMap;

use super::data::{DataError, Field, Schema, Type, Value};

/// A record as transforms see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRecord {
    pub topic: String,
    pub partition: Option<i32>,
    /// Sink records only: the record's offset in its topic.
    pub offset: Option<i64>,
    pub timestamp: Option<i64>,
    pub key_schema: Option<Schema>,
    pub key: Value,
    pub value_schema: Option<Schema>,
    pub value: Value,
}

/// Which side of a record a transform rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Key,
    Value,
}

/// A field InsertField adds: its name and whether it is optional (`!` makes it required).
#[derive(Debug, Clone, PartialEq)]
struct Insert {
    name: String,
    optional: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    InsertField {
        topic: Option<Insert>,
        partition: Option<Insert>,
        offset: Option<Insert>,
        timestamp: Option<Insert>,
        constant: Option<(Insert, String)>,
    },
    ReplaceField {
        exclude: Vec<String>,
        include: Vec<String>,
        renames: Vec<(String, String)>,
    },
    ValueToKey {
        fields: Vec<String>,
    },
    ExtractField {
        field: String,
    },
    TimestampRouter {
        topic_format: String,
        timestamp_format: String,
    },
    RegexRouter {
        regex: regex::Regex,
        replacement: String,
    },
}

/// One configured transform.
#[derive(Debug, Clone)]
pub struct Transform {
    alias: String,
    side: Side,
    kind: Kind,
}

const PREFIX: &str = "org.apache.kafka.connect.transforms.";

/// The transforms warren has, by Kafka's class names (for `/connector-plugins`).
pub const CLASSES: [&str; 9] = [
    "org.apache.kafka.connect.transforms.ExtractField$Key",
    "org.apache.kafka.connect.transforms.ExtractField$Value",
    "org.apache.kafka.connect.transforms.InsertField$Key",
    "org.apache.kafka.connect.transforms.InsertField$Value",
    "org.apache.kafka.connect.transforms.RegexRouter",
    "org.apache.kafka.connect.transforms.ReplaceField$Key",
    "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "org.apache.kafka.connect.transforms.TimestampRouter",
    "org.apache.kafka.connect.transforms.ValueToKey",
];

fn list(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

fn insert(value: Option<&String>) -> Option<Insert> {
    let name = value?.trim();
    if name.is_empty() {
        return None;
    }
    Some(match (name.strip_suffix('!'), name.strip_suffix('?')) {
        (Some(n), _) => Insert { name: n.to_string(), optional: false },
        (_, Some(n)) => Insert { name: n.to_string(), optional: true },
        _ => Insert { name: name.to_string(), optional: true },
    })
}

/// Java's replacement syntax (`$1`, `${name}`, `\$`) in the regex crate's (`${1}`, `$$`).
fn java_replacement(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => return Err("character to be escaped is missing".into()),
            },
            '$' => {
                if chars.peek() == Some(&'{') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    out.push_str(&format!("${{{name}}}"));
                } else {
                    let digits: String = std::iter::from_fn(|| chars.next_if(char::is_ascii_digit)).collect();
                    if digits.is_empty() {
                        return Err("Illegal group reference".into());
                    }
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `transforms` and `transforms.<alias>.*` from a connector's config, in order.
pub fn from_config(config: &BTreeMap<String, String>) -> Result<Vec<Transform>, String> {
    let mut out = Vec::new();
    for alias in list(config.get("transforms")) {
        let key = |k: &str| format!("transforms.{alias}.{k}");
        let get = |k: &str| config.get(&key(k));
        let class = get("type").ok_or_else(|| format!("Missing required configuration \"{}\"", key("type")))?;
        let short = class.strip_prefix(PREFIX).unwrap_or(class);
        let (base, side) = match short.split_once('$') {
            Some((base, "Key")) => (base, Side::Key),
            Some((base, "Value")) => (base, Side::Value),
            Some(_) => return Err(format!("Invalid value {class} for configuration {}: Class not found", key("type"))),
            None => (short, Side::Value),
        };
        let kind = match base {
            "InsertField" => {
                let constant = match (insert(get("static.field")), get("static.value")) {
                    (Some(field), Some(value)) => Some((field, value.clone())),
                    (Some(field), None) => return Err(format!("No value specified for static field: {}", field.name)),
                    (None, _) => None,
                };
                let (topic, partition) = (insert(get("topic.field")), insert(get("partition.field")));
                let (offset, timestamp) = (insert(get("offset.field")), insert(get("timestamp.field")));
                if topic.is_none()
                    && partition.is_none()
                    && offset.is_none()
                    && timestamp.is_none()
                    && constant.is_none()
                {
                    return Err("No field insertion configured".into());
                }
                Kind::InsertField { topic, partition, offset, timestamp, constant }
            }
            "ReplaceField" => {
                let mut renames = Vec::new();
                for pair in list(get("renames")) {
                    match pair.split_once(':') {
                        Some((from, to)) if !from.is_empty() && !to.is_empty() => {
                            renames.push((from.to_string(), to.to_string()))
                        }
                        _ => return Err(format!("Invalid rename mapping: {pair}")),
                    }
                }
                Kind::ReplaceField {
                    exclude: list(get("exclude").or(get("blacklist"))),
                    include: list(get("include").or(get("whitelist"))),
                    renames,
                }
            }
            "ValueToKey" if !short.contains('$') => {
                let fields = list(get("fields"));
                if fields.is_empty() {
                    return Err(format!("Missing required configuration \"{}\"", key("fields")));
                }
                Kind::ValueToKey { fields }
            }
            "ExtractField" => Kind::ExtractField {
                field: get("field")
                    .cloned()
                    .ok_or_else(|| format!("Missing required configuration \"{}\"", key("field")))?,
            },
            "TimestampRouter" if !short.contains('$') => Kind::TimestampRouter {
                topic_format: get("topic.format").cloned().unwrap_or_else(|| "${topic}-${timestamp}".into()),
                timestamp_format: get("timestamp.format").cloned().unwrap_or_else(|| "yyyyMMdd".into()),
            },
            "RegexRouter" if !short.contains('$') => {
                let pattern =
                    get("regex").ok_or_else(|| format!("Missing required configuration \"{}\"", key("regex")))?;
                let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| format!("Invalid value {pattern} for configuration {}: {e}", key("regex")))?;
                let replacement = get("replacement")
                    .ok_or_else(|| format!("Missing required configuration \"{}\"", key("replacement")))?;
                let replacement = java_replacement(replacement).map_err(|e| {
                    format!("Invalid value {replacement} for configuration {}: {e}", key("replacement"))
                })?;
                Kind::RegexRouter { regex, replacement }
            }
            _ => {
                return Err(format!(
                    "Invalid value {class} for configuration {}: Class {class} could not be found.",
                    key("type")
                ))
            }
        };
        out.push(Transform { alias, side, kind });
    }
    Ok(out)
}

fn operating(record: &mut ConnectRecord, side: Side) -> (&mut Option<Schema>, &mut Value) {
    match side {
        Side::Key => (&mut record.key_schema, &mut record.key),
        Side::Value => (&mut record.value_schema, &mut record.value),
    }
}

fn require_struct_or_map(schema: &Option<Schema>, value: &Value, purpose: &str) -> Result<(), DataError> {
    match (schema, value) {
        (Some(_), Value::Struct(_)) | (None, Value::Map(_)) => Ok(()),
        (Some(_), other) => {
            Err(DataError::new(format!("Only Struct objects supported for [{purpose}], found: {other:?}")))
        }
        (None, other) => Err(DataError::new(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {other:?}"
        ))),
    }
}

fn set(value: &mut Value, name: &str, new: Value) {
    match value {
        Value::Struct(fields) => fields.push((name.to_string(), new)),
        Value::Map(entries) => entries.push((Value::String(name.to_string()), new)),
        _ => {}
    }
}

impl Transform {
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// Applies the transform.
    pub fn apply(&self, mut record: ConnectRecord) -> Result<ConnectRecord, DataError> {
        match &self.kind {
            Kind::TimestampRouter { topic_format, timestamp_format } => {
                let ts = record
                    .timestamp
                    .ok_or_else(|| DataError::new(format!("Timestamp missing on record: {}", record.topic)))?;
                let formatted = format_timestamp(ts, timestamp_format);
                record.topic = topic_format.replace("${topic}", &record.topic).replace("${timestamp}", &formatted);
                return Ok(record);
            }
            Kind::RegexRouter { regex, replacement } => {
                if regex.is_match(&record.topic) {
                    record.topic = regex.replace(&record.topic, replacement.as_str()).into_owned();
                }
                return Ok(record);
            }
            Kind::ValueToKey { fields } => {
                if record.value.is_null() {
                    return Ok(record);
                }
                require_struct_or_map(&record.value_schema, &record.value, "copying fields from value to key")?;
                let mut key = Vec::new();
                let mut schema_fields = Vec::new();
                for f in fields {
                    let v = record
                        .value
                        .get(f)
                        .cloned()
                        .ok_or_else(|| DataError::new(format!("Field does not exist: {f}")))?;
                    if let Some(s) = &record.value_schema {
                        let field = s.field(f).ok_or_else(|| DataError::new(format!("Field does not exist: {f}")))?;
                        schema_fields.push(field.clone());
                    }
                    key.push((f.clone(), v));
                }
                match &record.value_schema {
                    Some(_) => {
                        record.key_schema = Some(Schema::new(Type::Struct(schema_fields)));
                        record.key = Value::Struct(key);
                    }
                    None => {
                        record.key_schema = None;
                        record.key = Value::Map(key.into_iter().map(|(k, v)| (Value::String(k), v)).collect());
                    }
                }
                return Ok(record);
            }
            _ => {}
        }
        let (topic, partition, offset, timestamp) =
            (record.topic.clone(), record.partition, record.offset, record.timestamp);
        let (schema, value) = operating(&mut record, self.side);
        if value.is_null() {
            return Ok(record);
        }
        match &self.kind {
            Kind::InsertField { topic: t, partition: p, offset: o, timestamp: ts, constant } => {
                require_struct_or_map(schema, value, "field insertion")?;
                if o.is_some() && offset.is_none() {
                    return Err(DataError::new("Offset field insertion is only supported for sink connectors"));
                }
                let mut additions: Vec<(&Insert, Schema, Value)> = Vec::new();
                if let Some(f) = t {
                    additions.push((f, Schema::new(Type::String), Value::String(topic)));
                }
                if let (Some(f), Some(p)) = (p, partition) {
                    additions.push((f, Schema::new(Type::Int32), Value::Int(p.into())));
                }
                if let (Some(f), Some(o)) = (o, offset) {
                    additions.push((f, Schema::new(Type::Int64), Value::Int(o)));
                }
                if let (Some(f), Some(ts)) = (ts, timestamp) {
                    additions.push((f, Schema::timestamp(), Value::Int(ts)));
                }
                if let Some((f, v)) = constant {
                    additions.push((f, Schema::new(Type::String), Value::String(v.clone())));
                }
                if let Some(Schema { kind: Type::Struct(fields), .. }) = schema {
                    for (insert, field_schema, _) in &additions {
                        let field_schema = Schema { optional: insert.optional, ..field_schema.clone() };
                        fields.push(Field { name: insert.name.clone(), schema: field_schema });
                    }
                }
                for (insert, _, v) in additions {
                    set(value, &insert.name, v);
                }
            }
            Kind::ReplaceField { exclude, include, renames } => {
                require_struct_or_map(schema, value, "field replacement")?;
                let keep = |name: &str| {
                    !exclude.iter().any(|e| e == name) && (include.is_empty() || include.iter().any(|i| i == name))
                };
                let rename = |name: &str| {
                    renames.iter().find(|(from, _)| from == name).map_or(name, |(_, to)| to.as_str()).to_string()
                };
                if let Some(Schema { kind: Type::Struct(fields), .. }) = schema {
                    fields.retain(|f| keep(&f.name));
                    for f in fields.iter_mut() {
                        f.name = rename(&f.name);
                    }
                }
                match value {
                    Value::Struct(fields) => {
                        fields.retain(|(n, _)| keep(n));
                        for (n, _) in fields.iter_mut() {
                            *n = rename(n);
                        }
                    }
                    Value::Map(entries) => {
                        entries.retain(|(k, _)| matches!(k, Value::String(n) if keep(n)));
                        for (k, _) in entries.iter_mut() {
                            if let Value::String(n) = k {
                                *n = rename(n);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Kind::ExtractField { field } => {
                require_struct_or_map(schema, value, "field extraction")?;
                let extracted = value.get(field).cloned();
                let field_schema = match schema.as_ref() {
                    Some(s) => Some(
                        s.field(field)
                            .map(|f| f.schema.clone())
                            .ok_or_else(|| DataError::new(format!("Unknown field: {field}")))?,
                    ),
                    None => None,
                };
                *schema = field_schema;
                *value = extracted.unwrap_or(Value::Null);
            }
            Kind::TimestampRouter { .. } | Kind::RegexRouter { .. } | Kind::ValueToKey { .. } => {}
        }
        Ok(record)
    }
}

/// A UTC timestamp in a Java `SimpleDateFormat` pattern's common letters (`yyyy`, `yy`, `MM`,
/// `dd`, `HH`, `mm`, `ss`, `SSS`); quoted text and other characters are copied.
pub fn format_timestamp(ms: i64, pattern: &str) -> String {
    let (year, month, day) = crate::time::civil_from_days(ms.div_euclid(86_400_000));
    let in_day = ms.rem_euclid(86_400_000);
    let (hour, minute, second, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        match c {
            '\'' => {
                let end = chars[i + 1..].iter().position(|&x| x == '\'').map_or(chars.len(), |p| i + 1 + p);
                out.extend(&chars[i + 1..end]);
                i = end + 1;
                continue;
            }
            'y' if run == 2 => out.push_str(&format!("{:02}", year.rem_euclid(100))),
            'y' => out.push_str(&format!("{year:0run$}")),
            'M' => out.push_str(&format!("{month:0run$}")),
            'd' => out.push_str(&format!("{day:0run$}")),
            'H' => out.push_str(&format!("{hour:0run$}")),
            'm' => out.push_str(&format!("{minute:0run$}")),
            's' => out.push_str(&format!("{second:0run$}")),
            'S' => out.push_str(&format!("{milli:0run$}")),
            other => out.extend(std::iter::repeat_n(other, run)),
        }
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn record(value_schema: Option<Schema>, value: Value) -> ConnectRecord {
        ConnectRecord {
            topic: "db-users".into(),
            partition: Some(2),
            offset: Some(42),
            timestamp: Some(1_700_000_000_000),
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
        }
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(pairs.iter().map(|(k, v)| (Value::String(k.to_string()), v.clone())).collect())
    }

    fn apply(pairs: &[(&str, &str)], r: ConnectRecord) -> Result<ConnectRecord, DataError> {
        let transforms = from_config(&config(pairs)).expect("config");
        transforms.iter().try_fold(r, |r, t| t.apply(r))
    }

    #[test]
    fn insert_field_as_the_docs_configure_it() {
        let pairs = [
            ("transforms", "InsertSource,Ts"),
            ("transforms.InsertSource.type", "org.apache.kafka.connect.transforms.InsertField$Value"),
            ("transforms.InsertSource.static.field", "data_source"),
            ("transforms.InsertSource.static.value", "test-file-source"),
            ("transforms.Ts.type", "org.apache.kafka.connect.transforms.InsertField$Value"),
            ("transforms.Ts.timestamp.field", "at!"),
            ("transforms.Ts.topic.field", "topic"),
        ];
        let out = apply(&pairs, record(None, map(&[("line", Value::String("foo".into()))]))).expect("schemaless");
        assert_eq!(out.value.get("data_source"), Some(&Value::String("test-file-source".into())));
        assert_eq!(out.value.get("at"), Some(&Value::Int(1_700_000_000_000)));
        let schema = Schema::structure([("line".to_string(), Schema::new(Type::String))]);
        let out =
            apply(&pairs, record(Some(schema), Value::Struct(vec![("line".into(), Value::String("foo".into()))])))
                .expect("struct");
        let s = out.value_schema.expect("schema");
        assert_eq!(
            s.field("at").map(|f| (f.schema.optional, f.schema.name.as_deref())),
            Some((false, Some(super::super::data::TIMESTAMP)))
        );
        assert_eq!(s.field("topic").map(|f| f.schema.optional), Some(true));
        assert_eq!(out.value.get("topic"), Some(&Value::String("db-users".into())));
        // A tombstone passes.
        let tomb = apply(&pairs, record(None, Value::Null)).expect("tombstone");
        assert_eq!(tomb.value, Value::Null);
    }

    #[test]
    fn replace_extract_value_to_key_and_routers() {
        let schema = Schema::structure([
            ("id".to_string(), Schema::new(Type::Int32)),
            ("secret".to_string(), Schema::new(Type::String)),
            ("name".to_string(), Schema::new(Type::String)),
        ]);
        let value = Value::Struct(vec![
            ("id".into(), Value::Int(7)),
            ("secret".into(), Value::String("x".into())),
            ("name".into(), Value::String("a".into())),
        ]);
        let out = apply(
            &[
                ("transforms", "drop,key,route"),
                ("transforms.drop.type", "org.apache.kafka.connect.transforms.ReplaceField$Value"),
                ("transforms.drop.exclude", "secret"),
                ("transforms.drop.renames", "name:full_name"),
                ("transforms.key.type", "org.apache.kafka.connect.transforms.ValueToKey"),
                ("transforms.key.fields", "id"),
                ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
                ("transforms.route.regex", "(.*)-(.*)"),
                ("transforms.route.replacement", "$2"),
            ],
            record(Some(schema), value),
        )
        .expect("chain");
        assert_eq!(out.topic, "users");
        assert_eq!(
            out.value,
            Value::Struct(vec![("id".into(), Value::Int(7)), ("full_name".into(), Value::String("a".into()))])
        );
        assert_eq!(out.key, Value::Struct(vec![("id".into(), Value::Int(7))]));
        assert_eq!(out.key_schema.and_then(|s| s.field("id").map(|f| f.schema.kind.clone())), Some(Type::Int32));
        let extracted = apply(
            &[
                ("transforms", "x"),
                ("transforms.x.type", "org.apache.kafka.connect.transforms.ExtractField$Key"),
                ("transforms.x.field", "id"),
            ],
            ConnectRecord { key: map(&[("id", Value::Int(3))]), ..record(None, Value::Null) },
        )
        .expect("extract");
        assert_eq!(extracted.key, Value::Int(3));
        let routed = apply(
            &[("transforms", "t"), ("transforms.t.type", "org.apache.kafka.connect.transforms.TimestampRouter")],
            record(None, Value::Null),
        )
        .expect("route");
        assert_eq!(routed.topic, "db-users-20231114");
        let unmatched = apply(
            &[
                ("transforms", "r"),
                ("transforms.r.type", "org.apache.kafka.connect.transforms.RegexRouter"),
                ("transforms.r.regex", "users"),
                ("transforms.r.replacement", "x"),
            ],
            record(None, Value::Null),
        )
        .expect("no match");
        assert_eq!(unmatched.topic, "db-users", "the whole topic must match");
    }

    #[test]
    fn bad_configs_and_data_are_errors_in_kafkas_words() {
        let check = |pairs: &[(&str, &str)], part: &str| {
            let e = from_config(&config(pairs)).expect_err("refused");
            assert!(e.contains(part), "{e}");
        };
        check(&[("transforms", "a")], "transforms.a.type");
        check(&[("transforms", "a"), ("transforms.a.type", "InsertField$Value")], "No field insertion configured");
        check(
            &[("transforms", "a"), ("transforms.a.type", "InsertField$Value"), ("transforms.a.static.field", "f")],
            "No value specified",
        );
        check(
            &[("transforms", "a"), ("transforms.a.type", "ReplaceField$Value"), ("transforms.a.renames", "nocolon")],
            "Invalid rename mapping",
        );
        check(&[("transforms", "a"), ("transforms.a.type", "com.example.Nope")], "could not be found");
        check(
            &[
                ("transforms", "a"),
                ("transforms.a.type", "RegexRouter"),
                ("transforms.a.regex", "("),
                ("transforms.a.replacement", "x"),
            ],
            "transforms.a.regex",
        );
        let e = apply(
            &[("transforms", "a"), ("transforms.a.type", "InsertField$Value"), ("transforms.a.topic.field", "t")],
            record(None, Value::String("not a map".into())),
        )
        .expect_err("not a map");
        assert!(e.0.contains("Only Map objects supported in absence of schema for [field insertion]"), "{e}");
        let e = apply(
            &[("transforms", "a"), ("transforms.a.type", "InsertField$Value"), ("transforms.a.offset.field", "o")],
            ConnectRecord { offset: None, ..record(None, map(&[])) },
        )
        .expect_err("source record");
        assert!(e.0.contains("only supported for sink connectors"), "{e}");
    }

    #[test]
    fn timestamps_format_like_simple_date_format_in_utc() {
        for (ms, pattern, want) in [
            (0, "yyyyMMdd", "19700101"),
            (1_700_000_000_000, "yyyy-MM-dd'T'HH:mm:ss.SSS", "2023-11-14T22:13:20.000"),
            (951_782_400_000, "yy/M/d", "00/2/29"),
            (-1, "yyyyMMddHHmmss", "19691231235959"),
        ] {
            assert_eq!(format_timestamp(ms, pattern), want, "{ms} {pattern}");
        }
        assert_eq!(java_replacement("$1-${name}\\$"), Ok("${1}-${name}$$".to_string()));
        assert!(java_replacement("$x").is_err());
    }
}
