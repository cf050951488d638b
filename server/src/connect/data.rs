//! Kafka Connect's data model: schemas (primitive, array, map, struct, with a name, version and
//! parameters for the logical types) and the values they describe. Connectors produce and
//! consume these; converters turn them into bytes and back; transforms rewrite them.
//!
//! Integers of every width are held as `i64` and checked against their schema's width when a
//! converter writes them; floats as `f64`.

use std::fmt;

/// A schema's type, with what a container holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Bytes,
    String,
    Array(Box<Schema>),
    Map(Box<Schema>, Box<Schema>),
    Struct(Vec<Field>),
}

impl Type {
    /// The name Kafka's JSON schemas use.
    pub fn name(&self) -> &'static str {
        match self {
            Type::Boolean => "boolean",
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float",
            Type::Float64 => "double",
            Type::Bytes => "bytes",
            Type::String => "string",
            Type::Array(_) => "array",
            Type::Map(..) => "map",
            Type::Struct(_) => "struct",
        }
    }

    /// The range an integer type holds.
    pub fn int_range(&self) -> Option<(i64, i64)> {
        match self {
            Type::Int8 => Some((i8::MIN.into(), i8::MAX.into())),
            Type::Int16 => Some((i16::MIN.into(), i16::MAX.into())),
            Type::Int32 => Some((i32::MIN.into(), i32::MAX.into())),
            Type::Int64 => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }
}

/// A struct's field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Schema,
}

/// A Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub kind: Type,
    pub optional: bool,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    /// In the order they were set (Kafka keeps a LinkedHashMap).
    pub parameters: Vec<(String, String)>,
    /// The default value, as JSON (what a converter writes for it).
    pub default: Option<serde_json::Value>,
}

/// Logical type names Kafka defines.
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";

impl Schema {
    pub fn new(kind: Type) -> Schema {
        Schema { kind, optional: false, name: None, version: None, doc: None, parameters: Vec::new(), default: None }
    }

    pub fn optional(mut self) -> Schema {
        self.optional = true;
        self
    }

    pub fn named(mut self, name: &str) -> Schema {
        self.name = Some(name.to_string());
        self
    }

    /// A struct of `fields` (name, schema), in order.
    pub fn structure(fields: impl IntoIterator<Item = (String, Schema)>) -> Schema {
        Schema::new(Type::Struct(fields.into_iter().map(|(name, schema)| Field { name, schema }).collect()))
    }

    /// Kafka's `Timestamp` logical type: milliseconds since the epoch in an int64.
    pub fn timestamp() -> Schema {
        Schema { name: Some(TIMESTAMP.into()), version: Some(1), ..Schema::new(Type::Int64) }
    }

    /// Kafka's `Decimal` logical type: an unscaled big-endian two's-complement integer in bytes.
    pub fn decimal(scale: i32) -> Schema {
        Schema {
            name: Some(DECIMAL.into()),
            version: Some(1),
            parameters: vec![("scale".into(), scale.to_string())],
            ..Schema::new(Type::Bytes)
        }
    }

    /// A struct's field schema by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        match &self.kind {
            Type::Struct(fields) => fields.iter().find(|f| f.name == name),
            _ => None,
        }
    }
}

/// A Connect value. With a schema, its shape follows the schema; without one (schemaless JSON),
/// objects are maps with string keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    String(String),
    Array(Vec<Value>),
    /// Key-value pairs in order.
    Map(Vec<(Value, Value)>),
    /// Field values in the schema's order.
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// A struct's or string-keyed map's entry by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            Value::Map(entries) => {
                entries.iter().find(|(k, _)| matches!(k, Value::String(s) if s == name)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Why data does not fit, in Kafka's words where Kafka has them (`DataException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DataError(pub String);

impl DataError {
    pub fn new(message: impl fmt::Display) -> DataError {
        DataError(message.to_string())
    }
}
