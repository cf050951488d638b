//! Kafka Connect's converters: Connect data to record bytes and back, byte for byte as Kafka's
//! `JsonConverter` (with or without the `{"schema", "payload"}` envelope), `StringConverter`
//! and `ByteArrayConverter` write them, so other tools read what warren's connectors write.
//!
//! Schema JSON keeps Kafka's field order (`type`; `items`, `keys`/`values` or `fields`;
//! `optional`; `name`, `version`, `doc`, `parameters`, `default` when set; a struct field's
//! `field` last), written by hand since a JSON map would sort its keys. A null schema and a null
//! value are a tombstone: no bytes at all.

use base64::Engine as _;
use serde_json::Value as Json;

use super::data::{DataError, Field, Schema, Type, Value};

/// Which converter a connector configured (`key.converter` / `value.converter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    Json { schemas_enable: bool },
    String,
    ByteArray,
}

impl Converter {
    /// A converter by Kafka's class name and its `schemas.enable` setting.
    pub fn from_class(class: &str, schemas_enable: Option<&str>) -> Result<Converter, DataError> {
        match class {
            "org.apache.kafka.connect.json.JsonConverter" => {
                let schemas_enable = match schemas_enable.map(str::trim) {
                    None => true,
                    Some(v) if v.eq_ignore_ascii_case("true") => true,
                    Some(v) if v.eq_ignore_ascii_case("false") => false,
                    Some(v) => return Err(DataError::new(format!("schemas.enable must be true or false, not '{v}'"))),
                };
                Ok(Converter::Json { schemas_enable })
            }
            "org.apache.kafka.connect.storage.StringConverter" => Ok(Converter::String),
            "org.apache.kafka.connect.converters.ByteArrayConverter" => Ok(Converter::ByteArray),
            other => Err(DataError::new(format!("converter class '{other}' is not available"))),
        }
    }

    /// Connect data to record bytes (`None`: a null record part).
    pub fn from_connect(&self, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>, DataError> {
        match self {
            Converter::Json { schemas_enable } => {
                if schema.is_none() && value.is_null() {
                    return Ok(None);
                }
                let mut out = String::new();
                if *schemas_enable {
                    out.push_str("{\"schema\":");
                    match schema {
                        Some(s) => write_schema(&mut out, s),
                        None => out.push_str("null"),
                    }
                    out.push_str(",\"payload\":");
                    write_value(&mut out, schema, value)?;
                    out.push('}');
                } else {
                    write_value(&mut out, schema, value)?;
                }
                Ok(Some(out.into_bytes()))
            }
            Converter::String => Ok(match value {
                Value::Null => None,
                Value::String(s) => Some(s.clone().into_bytes()),
                Value::Bytes(b) => Some(b.clone()),
                other => {
                    let mut out = String::new();
                    write_value(&mut out, None, other)?;
                    Some(out.into_bytes())
                }
            }),
            Converter::ByteArray => {
                if let Some(s) = schema.filter(|s| s.kind != Type::Bytes) {
                    return Err(DataError::new(format!(
                        "Invalid schema type for ByteArrayConverter: {}",
                        s.kind.name().to_uppercase()
                    )));
                }
                match value {
                    Value::Null => Ok(None),
                    Value::Bytes(b) => Ok(Some(b.clone())),
                    _ => Err(DataError::new("ByteArrayConverter is not compatible with objects of this type")),
                }
            }
        }
    }

    /// Record bytes to Connect data.
    pub fn to_connect(&self, bytes: Option<&[u8]>) -> Result<(Option<Schema>, Value), DataError> {
        let Some(bytes) = bytes else { return Ok((None, Value::Null)) };
        match self {
            Converter::Json { schemas_enable } => {
                let json: Json = serde_json::from_slice(bytes).map_err(|e| {
                    DataError::new(format!(
                        "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
                    ))
                })?;
                if !schemas_enable {
                    return Ok((None, schemaless(&json)));
                }
                let envelope =
                    json.as_object().filter(|o| o.len() == 2 && o.contains_key("schema") && o.contains_key("payload"));
                let Some(envelope) = envelope else {
                    return Err(DataError::new(
                        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.",
                    ));
                };
                let schema = match &envelope["schema"] {
                    Json::Null => None,
                    s => Some(read_schema(s)?),
                };
                let value = match &schema {
                    Some(s) => read_value(s, &envelope["payload"])?,
                    None => schemaless(&envelope["payload"]),
                };
                Ok((schema, value))
            }
            Converter::String => Ok((
                Some(Schema::new(Type::String).optional()),
                Value::String(String::from_utf8_lossy(bytes).into_owned()),
            )),
            Converter::ByteArray => Ok((Some(Schema::new(Type::Bytes).optional()), Value::Bytes(bytes.to_vec()))),
        }
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push_str(&Json::String(s.to_string()).to_string());
}

/// A schema as Kafka's `JsonConverter.asJsonSchema` writes it.
pub fn write_schema(out: &mut String, schema: &Schema) {
    out.push_str("{\"type\":");
    json_string(out, schema.kind.name());
    match &schema.kind {
        Type::Array(items) => {
            out.push_str(",\"items\":");
            write_schema(out, items);
        }
        Type::Map(keys, values) => {
            out.push_str(",\"keys\":");
            write_schema(out, keys);
            out.push_str(",\"values\":");
            write_schema(out, values);
        }
        Type::Struct(fields) => {
            out.push_str(",\"fields\":[");
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let mut field = String::new();
                write_schema(&mut field, &f.schema);
                // The field's schema object with `"field"` appended last.
                field.pop();
                out.push_str(&field);
                out.push_str(",\"field\":");
                json_string(out, &f.name);
                out.push('}');
            }
            out.push(']');
        }
        _ => {}
    }
    out.push_str(if schema.optional { ",\"optional\":true" } else { ",\"optional\":false" });
    if let Some(name) = &schema.name {
        out.push_str(",\"name\":");
        json_string(out, name);
    }
    if let Some(version) = schema.version {
        out.push_str(&format!(",\"version\":{version}"));
    }
    if let Some(doc) = &schema.doc {
        out.push_str(",\"doc\":");
        json_string(out, doc);
    }
    if !schema.parameters.is_empty() {
        out.push_str(",\"parameters\":{");
        for (i, (k, v)) in schema.parameters.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_string(out, k);
            out.push(':');
            json_string(out, v);
        }
        out.push('}');
    }
    if let Some(default) = &schema.default {
        out.push_str(",\"default\":");
        out.push_str(&default.to_string());
    }
    out.push('}');
}

/// A value as JSON, shaped by its schema when it has one.
pub fn write_value(out: &mut String, schema: Option<&Schema>, value: &Value) -> Result<(), DataError> {
    let Some(schema) = schema else {
        return write_schemaless(out, value);
    };
    if value.is_null() {
        if let Some(default) = &schema.default {
            out.push_str(&default.to_string());
            return Ok(());
        }
        if !schema.optional {
            return Err(DataError::new(
                "Conversion error: null value for field that is required and has no default value",
            ));
        }
        out.push_str("null");
        return Ok(());
    }
    let mismatch =
        || DataError::new(format!("Invalid Java object for schema type {}", schema.kind.name().to_uppercase()));
    match (&schema.kind, value) {
        (Type::Boolean, Value::Boolean(b)) => out.push_str(if *b { "true" } else { "false" }),
        (kind, Value::Int(n)) if kind.int_range().is_some() => {
            let (min, max) = kind.int_range().unwrap_or((i64::MIN, i64::MAX));
            if *n < min || *n > max {
                return Err(DataError::new(format!("{n} does not fit a {}", kind.name())));
            }
            out.push_str(&n.to_string());
        }
        (Type::Float32 | Type::Float64, Value::Float(x)) => out.push_str(&float(*x)),
        (Type::Float32 | Type::Float64, Value::Int(n)) => out.push_str(&float(*n as f64)),
        (Type::Bytes, Value::Bytes(b)) => json_string(out, &base64::engine::general_purpose::STANDARD.encode(b)),
        (Type::String, Value::String(s)) => json_string(out, s),
        (Type::Array(items), Value::Array(values)) => {
            out.push('[');
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, Some(items), v)?;
            }
            out.push(']');
        }
        (Type::Map(keys, values), Value::Map(entries)) => {
            let object = keys.kind == Type::String;
            out.push(if object { '{' } else { '[' });
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if object {
                    write_value(out, Some(keys), k)?;
                    out.push(':');
                    write_value(out, Some(values), v)?;
                } else {
                    out.push('[');
                    write_value(out, Some(keys), k)?;
                    out.push(',');
                    write_value(out, Some(values), v)?;
                    out.push(']');
                }
            }
            out.push(if object { '}' } else { ']' });
        }
        (Type::Struct(fields), Value::Struct(_)) => {
            out.push('{');
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, &f.name);
                out.push(':');
                write_value(out, Some(&f.schema), value.get(&f.name).unwrap_or(&Value::Null))?;
            }
            out.push('}');
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

fn float(x: f64) -> String {
    match serde_json::Number::from_f64(x) {
        Some(n) => n.to_string(),
        None => "null".to_string(),
    }
}

fn write_schemaless(out: &mut String, value: &Value) -> Result<(), DataError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Float(x) => out.push_str(&float(*x)),
        Value::Bytes(b) => json_string(out, &base64::engine::general_purpose::STANDARD.encode(b)),
        Value::String(s) => json_string(out, s),
        Value::Array(values) => {
            out.push('[');
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_schemaless(out, v)?;
            }
            out.push(']');
        }
        Value::Map(entries) if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_schemaless(out, k)?;
                out.push(':');
                write_schemaless(out, v)?;
            }
            out.push('}');
        }
        Value::Map(entries) => {
            out.push('[');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('[');
                write_schemaless(out, k)?;
                out.push(',');
                write_schemaless(out, v)?;
                out.push(']');
            }
            out.push(']');
        }
        Value::Struct(fields) => {
            out.push('{');
            for (i, (name, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, name);
                out.push(':');
                write_schemaless(out, v)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Plain JSON as schemaless Connect data: objects are string-keyed maps, integral numbers
/// int64, other numbers float64.
pub fn schemaless(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(schemaless).collect()),
        Json::Object(map) => Value::Map(map.iter().map(|(k, v)| (Value::String(k.clone()), schemaless(v))).collect()),
    }
}

/// A schema from Kafka's JSON schema form.
pub fn read_schema(json: &Json) -> Result<Schema, DataError> {
    let object = json.as_object().ok_or_else(|| DataError::new("a schema must be a JSON object"))?;
    let kind_name =
        object.get("type").and_then(Json::as_str).ok_or_else(|| DataError::new("Schema must contain 'type' field"))?;
    let child = |key: &str| -> Result<Box<Schema>, DataError> {
        object
            .get(key)
            .map(read_schema)
            .transpose()?
            .map(Box::new)
            .ok_or_else(|| DataError::new(format!("{kind_name} schema must contain '{key}'")))
    };
    let kind = match kind_name {
        "boolean" => Type::Boolean,
        "int8" => Type::Int8,
        "int16" => Type::Int16,
        "int32" => Type::Int32,
        "int64" => Type::Int64,
        "float" => Type::Float32,
        "double" => Type::Float64,
        "bytes" => Type::Bytes,
        "string" => Type::String,
        "array" => Type::Array(child("items")?),
        "map" => Type::Map(child("keys")?, child("values")?),
        "struct" => {
            let fields = object
                .get("fields")
                .and_then(Json::as_array)
                .ok_or_else(|| DataError::new("Struct schema's \"fields\" argument is not an array."))?;
            let mut out = Vec::with_capacity(fields.len().min(4096));
            for f in fields {
                let name = f
                    .get("field")
                    .and_then(Json::as_str)
                    .ok_or_else(|| DataError::new("Struct schema's field name not specified properly"))?;
                out.push(Field { name: name.to_string(), schema: read_schema(f)? });
            }
            Type::Struct(out)
        }
        other => return Err(DataError::new(format!("Unknown schema type: {other}"))),
    };
    let parameters = match object.get("parameters") {
        Some(Json::Object(p)) => {
            p.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
        }
        _ => Vec::new(),
    };
    Ok(Schema {
        kind,
        optional: object.get("optional") == Some(&Json::Bool(true)),
        name: object.get("name").and_then(Json::as_str).map(str::to_string),
        version: object.get("version").and_then(Json::as_i64).and_then(|v| i32::try_from(v).ok()),
        doc: object.get("doc").and_then(Json::as_str).map(str::to_string),
        parameters,
        default: object.get("default").cloned(),
    })
}

/// A payload read by its schema.
pub fn read_value(schema: &Schema, json: &Json) -> Result<Value, DataError> {
    if json.is_null() {
        return match (&schema.default, schema.optional) {
            (Some(default), _) => read_value(&Schema { default: None, ..schema.clone() }, default),
            (None, true) => Ok(Value::Null),
            (None, false) => Err(DataError::new("Invalid null value for required schema")),
        };
    }
    let wrong = || DataError::new(format!("Invalid JSON for {} schema: {json}", schema.kind.name()));
    Ok(match &schema.kind {
        Type::Boolean => Value::Boolean(json.as_bool().ok_or_else(wrong)?),
        kind if kind.int_range().is_some() => {
            let n = json.as_i64().ok_or_else(wrong)?;
            let (min, max) = kind.int_range().unwrap_or((i64::MIN, i64::MAX));
            if n < min || n > max {
                return Err(wrong());
            }
            Value::Int(n)
        }
        Type::Float32 | Type::Float64 => Value::Float(json.as_f64().ok_or_else(wrong)?),
        Type::Bytes => Value::Bytes(
            base64::engine::general_purpose::STANDARD.decode(json.as_str().ok_or_else(wrong)?).map_err(|_| wrong())?,
        ),
        Type::String => Value::String(json.as_str().ok_or_else(wrong)?.to_string()),
        Type::Array(items) => Value::Array(
            json.as_array().ok_or_else(wrong)?.iter().map(|v| read_value(items, v)).collect::<Result<_, _>>()?,
        ),
        Type::Map(keys, values) => match json {
            Json::Object(map) if keys.kind == Type::String => Value::Map(
                map.iter()
                    .map(|(k, v)| Ok((Value::String(k.clone()), read_value(values, v)?)))
                    .collect::<Result<_, DataError>>()?,
            ),
            Json::Array(pairs) => Value::Map(
                pairs
                    .iter()
                    .map(|pair| match pair.as_array().map(Vec::as_slice) {
                        Some([k, v]) => Ok((read_value(keys, k)?, read_value(values, v)?)),
                        _ => Err(wrong()),
                    })
                    .collect::<Result<_, DataError>>()?,
            ),
            _ => return Err(wrong()),
        },
        Type::Struct(fields) => {
            let object = json.as_object().ok_or_else(wrong)?;
            Value::Struct(
                fields
                    .iter()
                    .map(|f| Ok((f.name.clone(), read_value(&f.schema, object.get(&f.name).unwrap_or(&Json::Null))?)))
                    .collect::<Result<_, DataError>>()?,
            )
        }
        _ => return Err(wrong()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Schema {
        Schema::structure([
            ("id".to_string(), Schema::new(Type::Int32)),
            ("name".to_string(), Schema::new(Type::String).optional()),
            ("updated_at".to_string(), Schema::timestamp()),
            ("amount".to_string(), Schema { optional: true, ..Schema::decimal(2) }),
        ])
        .named("users")
    }

    fn row() -> Value {
        Value::Struct(vec![
            ("id".into(), Value::Int(1)),
            ("name".into(), Value::String("alice".into())),
            ("updated_at".into(), Value::Int(1_700_000_000_000)),
            ("amount".into(), Value::Bytes(vec![0x30, 0x39])),
        ])
    }

    #[test]
    fn json_with_schemas_matches_kafka_byte_for_byte() {
        let json = Converter::Json { schemas_enable: true };
        let bytes = json.from_connect(Some(&users()), &row()).expect("convert").expect("bytes");
        let want = concat!(
            r#"{"schema":{"type":"struct","fields":["#,
            r#"{"type":"int32","optional":false,"field":"id"},"#,
            r#"{"type":"string","optional":true,"field":"name"},"#,
            r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"updated_at"},"#,
            r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"amount"}],"#,
            r#""optional":false,"name":"users"},"#,
            r#""payload":{"id":1,"name":"alice","updated_at":1700000000000,"amount":"MDk="}}"#
        );
        assert_eq!(String::from_utf8(bytes.clone()).expect("utf8"), want);
        let (schema, value) = json.to_connect(Some(&bytes)).expect("read back");
        assert_eq!((schema, value), (Some(users()), row()));
        let line = json.from_connect(Some(&Schema::new(Type::String)), &Value::String("hello".into())).expect("line");
        assert_eq!(line.as_deref(), Some(&br#"{"schema":{"type":"string","optional":false},"payload":"hello"}"#[..]));
    }

    #[test]
    fn schemaless_json_string_and_bytes() {
        let plain = Converter::Json { schemas_enable: false };
        let (schema, value) = plain.to_connect(Some(br#"{"a":1,"b":[true,2.5],"c":null}"#)).expect("plain");
        assert_eq!(schema, None);
        assert_eq!(value.get("a"), Some(&Value::Int(1)));
        let back = plain.from_connect(None, &value).expect("write").expect("bytes");
        assert_eq!(back, br#"{"a":1,"b":[true,2.5],"c":null}"#.to_vec());
        assert_eq!(plain.from_connect(None, &Value::Null).expect("tombstone"), None);
        let string = Converter::String;
        assert_eq!(string.to_connect(Some(b"hi")).expect("s").1, Value::String("hi".into()));
        assert_eq!(string.from_connect(None, &Value::Int(7)).expect("s"), Some(b"7".to_vec()));
        let raw = Converter::ByteArray;
        assert_eq!(raw.from_connect(None, &Value::Bytes(vec![1, 2])).expect("b"), Some(vec![1, 2]));
        let refused = raw.from_connect(Some(&Schema::new(Type::String)), &Value::String("x".into()));
        assert_eq!(refused, Err(DataError::new("Invalid schema type for ByteArrayConverter: STRING")));
    }

    #[test]
    fn bad_data_is_an_error_in_kafkas_words() {
        let json = Converter::Json { schemas_enable: true };
        let missing = json.to_connect(Some(br#"{"a":1}"#)).expect_err("no envelope");
        assert!(missing.0.contains("requires \"schema\" and \"payload\""), "{missing}");
        let extra = json.to_connect(Some(br#"{"schema":null,"payload":1,"x":2}"#)).expect_err("extra field");
        assert!(extra.0.contains("may not contain additional fields"), "{extra}");
        assert!(json.to_connect(Some(br#"{"schema":{"optional":true},"payload":1}"#)).is_err(), "no type");
        assert!(json.to_connect(Some(br#"{"schema":{"type":"int8"},"payload":300}"#)).is_err(), "out of range");
        assert!(json.to_connect(Some(b"not json")).is_err());
        let required = json.from_connect(Some(&users()), &Value::Struct(vec![])).expect_err("id is required");
        assert!(required.0.contains("null value for field that is required"), "{required}");
        assert!(Converter::from_class("com.example.Nope", None).is_err());
        assert_eq!(
            Converter::from_class("org.apache.kafka.connect.json.JsonConverter", Some("false")),
            Ok(Converter::Json { schemas_enable: false })
        );
        // Arbitrary bytes never panic.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..500usize {
            let bytes: Vec<u8> = (0..len % 40)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let alphabet = br#"{}[]":,schemapayloadtype0123456789 "#;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = json.to_connect(Some(&bytes));
        }
    }
}
