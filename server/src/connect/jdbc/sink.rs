//! The JDBC sink task: writes records into `table.name.format` tables as Confluent's
//! `JdbcSinkTask` does: key and value columns by `pk.mode` and `pk.fields` (upstream's
//! `FieldsMetadata`, errors in its words), `insert`, `upsert` or `update`, deletes for null
//! values with `delete.enabled`, and `CREATE TABLE` from the record's schema with `auto.create`.
//!
//! Each `put` is one transaction holding all its records (consecutive records of one table and
//! shape share multi-row statements), committed before `put` returns, so `flush` has nothing
//! left to do and a cancelled `put` rolls back whole. Upserts are idempotent: redelivered
//! records after a failed offset commit leave the same rows.
//!
//! Upserts use `INSERT ... ON CONFLICT (pk) DO UPDATE SET c = excluded.c` on both databases.
//! Upstream's SQLite dialect writes `INSERT OR REPLACE`, which deletes the old row and inserts a
//! new one: columns the record does not carry fall back to their defaults, the rowid changes,
//! and with foreign keys on (sqlx turns them on) `ON DELETE CASCADE` children go. SQLite has
//! had `ON CONFLICT ... DO UPDATE` since 3.24 (sqlx bundles a far newer one). A put's rows are
//! made unique by key first, the last one winning, because PostgreSQL refuses to update one row
//! twice in a statement.
//!
//! Values: Structs with schemas (JsonConverter with schemas), or schemaless JSON objects (maps),
//! whose columns are their keys and, for `auto.create`, whose types come from the first record's
//! JSON values (integer BIGINT, number DOUBLE, boolean, text; null, objects and arrays TEXT).
//! Nested structs, maps and arrays are written as JSON text. Logical types go to SQLite as the
//! text its date functions read (`YYYY-MM-DD HH:MM:SS.fff` UTC, `YYYY-MM-DD`, `HH:MM:SS.fff`,
//! decimal text); to PostgreSQL every value goes as text cast to the column's type. The sink
//! leaves the database's own settings (journal mode, synchronous) alone: it is the user's file.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::bail;
use base64::Engine;

use super::db::{ColumnInfo, Db, Dialect, Param, Session, TableId};
use super::types::{date_text, decimal_text, millis_text, time_text};
use crate::connect::data::{Schema, Type, Value, DATE, DECIMAL, TIME, TIMESTAMP};
use crate::connect::plugin::{list, Config, SinkTask};
use crate::connect::transforms::ConnectRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InsertMode {
    Insert,
    Upsert,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PkMode {
    None,
    Kafka,
    RecordKey,
    RecordValue,
}

impl PkMode {
    fn name(self) -> &'static str {
        match self {
            PkMode::None => "NONE",
            PkMode::Kafka => "KAFKA",
            PkMode::RecordKey => "RECORD_KEY",
            PkMode::RecordValue => "RECORD_VALUE",
        }
    }
}

/// A column a record writes: its name and the schema of its values.
#[derive(Debug, Clone, PartialEq)]
struct Col {
    name: String,
    schema: Schema,
}

/// One record as columns: key columns first (the row's identity), then the others.
#[derive(Debug, Clone)]
struct Row {
    table: String,
    delete: bool,
    keys: Vec<Col>,
    values: Vec<Col>,
    data: Vec<Value>,
}

impl Row {
    fn same_shape(&self, other: &Row) -> bool {
        self.table == other.table
            && self.delete == other.delete
            && self.keys == other.keys
            && self.values == other.values
    }
}

pub struct JdbcSinkTask {
    db: Db,
    insert_mode: InsertMode,
    pk_mode: PkMode,
    pk_fields: Vec<String>,
    auto_create: bool,
    table_format: String,
    batch_size: usize,
    delete_enabled: bool,
    fields_whitelist: HashSet<String>,
    /// The columns of the tables written so far, as committed.
    tables: HashMap<String, Vec<ColumnInfo>>,
}

/// A schemaless value's schema: what its JSON would be.
fn infer(value: &Value) -> Schema {
    let kind = match value {
        Value::Boolean(_) => Type::Boolean,
        Value::Int(_) => Type::Int64,
        Value::Float(_) => Type::Float64,
        Value::Bytes(_) => Type::Bytes,
        _ => Type::String,
    };
    Schema::new(kind).optional()
}

/// The fields of a Struct (with its schema) or of a schemaless JSON object, in order.
fn fields(schema: Option<&Schema>, value: &Value) -> Option<Vec<(Col, Value)>> {
    match (schema.map(|s| &s.kind), value) {
        (Some(Type::Struct(fields)), _) => Some(
            fields
                .iter()
                .map(|f| {
                    (
                        Col { name: f.name.clone(), schema: f.schema.clone() },
                        value.get(&f.name).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect(),
        ),
        (None, Value::Map(entries)) => entries
            .iter()
            .map(|(k, v)| match k {
                Value::String(name) => Some((Col { name: name.clone(), schema: infer(v) }, v.clone())),
                _ => None,
            })
            .collect(),
        (None, Value::Struct(values)) => {
            Some(values.iter().map(|(name, v)| (Col { name: name.clone(), schema: infer(v) }, v.clone())).collect())
        }
        _ => None,
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::String(s) => J::String(s.clone()),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => {
            let key = |k: &Value| match k {
                Value::String(s) => s.clone(),
                other => to_json(other).to_string(),
            };
            J::Object(entries.iter().map(|(k, v)| (key(k), to_json(v))).collect())
        }
        Value::Struct(fields) => J::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// A value as the parameter its column takes.
fn param(value: &Value, schema: &Schema, dialect: Dialect) -> anyhow::Result<Param> {
    let pg = dialect == Dialect::Postgres;
    let text = |s: String| Param::Text(s);
    Ok(match (schema.name.as_deref(), value) {
        (_, Value::Null) => Param::Null,
        (Some(TIMESTAMP), Value::Int(ms)) => text(millis_text(*ms)),
        (Some(DATE), Value::Int(days)) => text(date_text(*days)),
        (Some(TIME), Value::Int(ms)) => text(time_text(*ms)),
        (Some(DECIMAL), Value::Bytes(b)) => {
            let scale = schema.parameters.iter().find(|(k, _)| k == "scale").and_then(|(_, v)| v.parse().ok());
            text(decimal_text(b, scale.unwrap_or(0)))
        }
        (_, Value::Int(i)) if pg => text(i.to_string()),
        (_, Value::Int(i)) => Param::Int(*i),
        (_, Value::Float(f)) if pg => text(f.to_string()),
        (_, Value::Float(f)) => Param::Float(*f),
        (_, Value::Boolean(b)) if pg => text(b.to_string()),
        (_, Value::Boolean(b)) => Param::Int(i64::from(*b)),
        (_, Value::String(s)) => text(s.clone()),
        (_, Value::Bytes(b)) if pg => text(format!("\\x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())),
        (_, Value::Bytes(b)) => Param::Bytes(b.clone()),
        (_, nested) => text(to_json(nested).to_string()),
    })
}

/// The column type `auto.create` gives a field (upstream's dialects' `getSqlType`).
fn sql_type(schema: &Schema, dialect: Dialect) -> &'static str {
    let logical = schema.name.as_deref();
    match dialect {
        Dialect::Sqlite => match (logical, &schema.kind) {
            // Upstream declares all four NUMERIC. These names have exactly NUMERIC's affinity
            // too, and tell readers (warren's own JDBC source among them) what the text is.
            (Some(DECIMAL), _) => "NUMERIC",
            (Some(DATE), _) => "DATE",
            (Some(TIME), _) => "TIME",
            (Some(TIMESTAMP), _) => "DATETIME",
            (_, Type::Boolean | Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64) => "INTEGER",
            (_, Type::Float32 | Type::Float64) => "REAL",
            (_, Type::Bytes) => "BLOB",
            _ => "TEXT",
        },
        Dialect::Postgres => match (logical, &schema.kind) {
            (Some(DECIMAL), _) => "DECIMAL",
            (Some(DATE), _) => "DATE",
            (Some(TIME), _) => "TIME",
            (Some(TIMESTAMP), _) => "TIMESTAMP",
            (_, Type::Int8 | Type::Int16) => "SMALLINT",
            (_, Type::Int32) => "INT",
            (_, Type::Int64) => "BIGINT",
            (_, Type::Float32) => "REAL",
            (_, Type::Float64) => "DOUBLE PRECISION",
            (_, Type::Boolean) => "BOOLEAN",
            (_, Type::Bytes) => "BYTEA",
            _ => "TEXT",
        },
    }
}

impl JdbcSinkTask {
    pub async fn start(config: &Config) -> anyhow::Result<JdbcSinkTask> {
        let get =
            |k: &str, default: &str| config.get(k).map(|v| v.trim().to_string()).unwrap_or_else(|| default.into());
        let insert_mode = match get("insert.mode", "insert").to_ascii_lowercase().as_str() {
            "insert" => InsertMode::Insert,
            "upsert" => InsertMode::Upsert,
            "update" => InsertMode::Update,
            other => bail!("Invalid value {other} for configuration insert.mode: Invalid enumerator"),
        };
        let pk_mode = match get("pk.mode", "none").to_ascii_lowercase().as_str() {
            "none" => PkMode::None,
            "kafka" => PkMode::Kafka,
            "record_key" => PkMode::RecordKey,
            "record_value" => PkMode::RecordValue,
            other => bail!("Invalid value {other} for configuration pk.mode: Invalid enumerator"),
        };
        let delete_enabled = get("delete.enabled", "false").eq_ignore_ascii_case("true");
        if delete_enabled && pk_mode != PkMode::RecordKey {
            bail!("Primary key mode must be 'record_key' when delete support is enabled");
        }
        let table_format = get("table.name.format", "${topic}");
        if table_format.is_empty() {
            bail!("Invalid value  for configuration table.name.format: String may not be empty");
        }
        let batch_size = get("batch.size", "3000").parse::<usize>().unwrap_or(3000).max(1);
        let db = Db::connect(config, true, Duration::from_secs(30)).await?;
        Ok(JdbcSinkTask {
            db,
            insert_mode,
            pk_mode,
            pk_fields: list(config, "pk.fields"),
            auto_create: get("auto.create", "false").eq_ignore_ascii_case("true"),
            table_format,
            batch_size,
            delete_enabled,
            fields_whitelist: list(config, "fields.whitelist").into_iter().collect(),
            tables: HashMap::new(),
        })
    }

    fn table_id(&self, name: &str) -> TableId {
        match self.db.dialect() {
            Dialect::Postgres => TableId::parse(name),
            Dialect::Sqlite => TableId { schema: None, name: name.to_string() },
        }
    }

    /// The record as key and value columns (upstream's `FieldsMetadata.extract`).
    fn row(&self, r: &ConnectRecord) -> anyhow::Result<Row> {
        let table = self.table_format.replace("${topic}", &r.topic);
        let delete = r.value.is_null();
        if delete && !self.delete_enabled {
            bail!(
                "Sink connector is configured with 'delete.enabled=false' and 'pk.mode={}' and therefore requires \
                 records with a non-null Struct value and non-null Struct schema, but found record at \
                 (topic='{}',partition={},offset={},timestamp={}) with a null value and null value schema.",
                self.pk_mode.name().to_ascii_lowercase(),
                r.topic,
                r.partition.unwrap_or(-1),
                r.offset.unwrap_or(-1),
                r.timestamp.unwrap_or(-1)
            );
        }
        let value_fields = match delete {
            true => Vec::new(),
            false => fields(r.value_schema.as_ref(), &r.value)
                .ok_or_else(|| anyhow::anyhow!("Value schema must be of type Struct"))?,
        };
        let mode = self.pk_mode.name();
        let pk = &self.pk_fields;
        let missing = |side: &str, name: &str| {
            anyhow::anyhow!(
                "PK mode for table '{table}' is {mode} with configured PK fields {pk:?}, but record {side} schema does \
                 not contain field: {name}"
            )
        };
        let mut keys: Vec<(Col, Value)> = match self.pk_mode {
            PkMode::None => Vec::new(),
            PkMode::Kafka => {
                let names = match pk.len() {
                    0 => vec!["__connect_topic".to_string(), "__connect_partition".into(), "__connect_offset".into()],
                    3 => pk.clone(),
                    _ => bail!(
                        "PK mode for table '{table}' is KAFKA so there should either be no field names defined for \
                         defaults [__connect_topic, __connect_partition, __connect_offset] to be applicable, or \
                         exactly 3, defined fields are: {pk:?}"
                    ),
                };
                let values = [
                    (Type::String, Value::String(r.topic.clone())),
                    (Type::Int32, r.partition.map_or(Value::Null, |p| Value::Int(p.into()))),
                    (Type::Int64, r.offset.map_or(Value::Null, Value::Int)),
                ];
                names
                    .into_iter()
                    .zip(values)
                    .map(|(name, (kind, v))| (Col { name, schema: Schema::new(kind) }, v))
                    .collect()
            }
            PkMode::RecordKey => {
                if r.key_schema.is_none() && r.key.is_null() {
                    bail!("PK mode for table '{table}' is RECORD_KEY, but record key schema is missing");
                }
                let primitive = match &r.key_schema {
                    Some(s) => !matches!(s.kind, Type::Struct(_) | Type::Array(_) | Type::Map(..)),
                    None => !matches!(r.key, Value::Map(_) | Value::Struct(_) | Value::Array(_)),
                };
                if let Some(s) = r.key_schema.as_ref().filter(|s| matches!(s.kind, Type::Array(_) | Type::Map(..))) {
                    bail!(
                        "Key schema must be primitive type or Struct, but is of type: {}",
                        s.kind.name().to_uppercase()
                    );
                }
                if primitive {
                    if pk.len() != 1 {
                        bail!(
                            "Need exactly one PK column defined since the key schema for records is a primitive type, \
                             defined columns are: {pk:?}"
                        );
                    }
                    let schema = r.key_schema.clone().unwrap_or_else(|| infer(&r.key));
                    vec![(Col { name: pk[0].clone(), schema }, r.key.clone())]
                } else {
                    let all = fields(r.key_schema.as_ref(), &r.key)
                        .ok_or_else(|| anyhow::anyhow!("Key schema must be primitive type or Struct"))?;
                    self.pick(all, pk, |name| missing("key", name))?
                }
            }
            PkMode::RecordValue => {
                if delete {
                    bail!("PK mode for table '{table}' is RECORD_VALUE, but the record value is null");
                }
                self.pick(value_fields.clone(), pk, |name| missing("value", name))?
            }
        };
        let key_names: HashSet<String> = keys.iter().map(|(c, _)| c.name.clone()).collect();
        let values: Vec<(Col, Value)> = value_fields
            .into_iter()
            .filter(|(c, _)| !key_names.contains(&c.name))
            .filter(|(c, _)| self.fields_whitelist.is_empty() || self.fields_whitelist.contains(&c.name))
            .collect();
        if keys.is_empty() && values.is_empty() {
            bail!("No fields found using key and value schemas for table: {table}");
        }
        let (key_cols, mut data): (Vec<Col>, Vec<Value>) = keys.drain(..).unzip();
        let (value_cols, value_data): (Vec<Col>, Vec<Value>) = values.into_iter().unzip();
        data.extend(value_data);
        Ok(Row { table, delete, keys: key_cols, values: value_cols, data })
    }

    /// The `pk.fields` among `all` (all of them when none are listed).
    fn pick(
        &self,
        all: Vec<(Col, Value)>,
        pk: &[String],
        missing: impl Fn(&str) -> anyhow::Error,
    ) -> anyhow::Result<Vec<(Col, Value)>> {
        if pk.is_empty() {
            return Ok(all);
        }
        pk.iter().map(|name| all.iter().find(|(c, _)| c.name == *name).cloned().ok_or_else(|| missing(name))).collect()
    }

    /// The table's columns, creating it (`auto.create`) when it is missing; fails when a
    /// column the records write is not there.
    async fn columns(
        &self,
        session: &mut Session,
        row: &Row,
        learned: &mut HashMap<String, Vec<ColumnInfo>>,
    ) -> anyhow::Result<Vec<ColumnInfo>> {
        let dialect = session.dialect();
        let table = self.table_id(&row.table);
        let wanted: Vec<&Col> = row.keys.iter().chain(&row.values).collect();
        let lacking = |columns: &[ColumnInfo]| -> Vec<String> {
            let has = |n: &str| columns.iter().any(|c| c.name == n || c.name.eq_ignore_ascii_case(n));
            wanted.iter().filter(|c| !has(&c.name)).map(|c| c.name.clone()).collect()
        };
        if let Some(known) = learned.get(&row.table).or_else(|| self.tables.get(&row.table)) {
            if lacking(known).is_empty() {
                return Ok(known.clone());
            }
        }
        let mut columns = session.columns(&table).await?;
        if columns.is_empty() {
            if !self.auto_create {
                bail!("Table {} is missing and auto-creation is disabled", row.table);
            }
            let mut defs: Vec<String> = Vec::new();
            for (i, col) in wanted.iter().enumerate() {
                let not_null = if i < row.keys.len() || !col.schema.optional { " NOT NULL" } else { "" };
                defs.push(format!("{} {}{not_null}", dialect.quote(&col.name), sql_type(&col.schema, dialect)));
            }
            if !row.keys.is_empty() {
                let keys: Vec<String> = row.keys.iter().map(|c| dialect.quote(&c.name)).collect();
                defs.push(format!("PRIMARY KEY({})", keys.join(",")));
            }
            let sql = format!("CREATE TABLE IF NOT EXISTS {} ({})", table.quoted(dialect), defs.join(", "));
            session.execute(&sql, &[]).await?;
            columns = session.columns(&table).await?;
        }
        let lacking = lacking(&columns);
        if !lacking.is_empty() {
            bail!("Table {} is missing fields ({}) and auto-evolution is disabled", row.table, lacking.join(", "));
        }
        learned.insert(row.table.clone(), columns.clone());
        Ok(columns)
    }

    /// Writes `rows`, all of one table and shape.
    async fn write(
        &self,
        session: &mut Session,
        rows: &[Row],
        learned: &mut HashMap<String, Vec<ColumnInfo>>,
    ) -> anyhow::Result<()> {
        let dialect = session.dialect();
        let first = &rows[0];
        let columns = self.columns(session, first, learned).await?;
        let table = self.table_id(&first.table).quoted(dialect);
        let cols: Vec<&Col> = first.keys.iter().chain(&first.values).collect();
        // Each record column's table column: its real name and, for PostgreSQL, the type to cast to.
        let mut targets: Vec<&ColumnInfo> = Vec::with_capacity(cols.len());
        for c in &cols {
            let exact = columns.iter().find(|t| t.name == c.name);
            let found = exact.or_else(|| columns.iter().find(|t| t.name.eq_ignore_ascii_case(&c.name)));
            targets.push(found.ok_or_else(|| anyhow::anyhow!("Table {} has no column {}", first.table, c.name))?);
        }
        let names: Vec<String> = targets.iter().map(|t| dialect.quote(&t.name)).collect();
        let placeholder = |n: usize, column: usize| match dialect {
            Dialect::Sqlite => "?".to_string(),
            Dialect::Postgres => format!("CAST(${n} AS {})", targets[column].cast_type),
        };
        let nkeys = first.keys.len();
        let params = |row: &Row| -> anyhow::Result<Vec<Param>> {
            row.data.iter().zip(&cols).map(|(v, c)| param(v, &c.schema, dialect)).collect()
        };
        let requires_keys = |what: &str| {
            anyhow::anyhow!(
                "Write to table '{}' in {what} mode requires key field names to be known, check the primary key \
                 configuration",
                first.table
            )
        };
        let where_keys = |offset: usize| -> String {
            let parts: Vec<String> =
                (0..nkeys).map(|i| format!("{} = {}", names[i], placeholder(offset + i + 1, i))).collect();
            parts.join(" AND ")
        };

        if first.delete || self.insert_mode == InsertMode::Update {
            if nkeys == 0 {
                return Err(requires_keys(if first.delete { "DELETE" } else { "UPDATE" }));
            }
            for row in rows {
                if !row.delete && cols.len() == nkeys {
                    continue; // an update with only key columns has nothing to set
                }
                let mut values = params(row)?;
                let sql = if row.delete {
                    values.truncate(nkeys);
                    format!("DELETE FROM {table} WHERE {}", where_keys(0))
                } else {
                    let sets: Vec<String> = (nkeys..cols.len())
                        .map(|i| format!("{} = {}", names[i], placeholder(i - nkeys + 1, i)))
                        .collect();
                    // The keys go last in the statement, so they are bound last.
                    values.rotate_left(nkeys);
                    format!("UPDATE {table} SET {} WHERE {}", sets.join(", "), where_keys(cols.len() - nkeys))
                };
                session.execute(&sql, &values).await?;
            }
            return Ok(());
        }

        let mut all: Vec<Vec<Param>> = rows.iter().map(params).collect::<anyhow::Result<_>>()?;
        let suffix = if self.insert_mode == InsertMode::Upsert {
            if nkeys == 0 {
                return Err(requires_keys("UPSERT"));
            }
            // Last write wins within the batch; PostgreSQL will not update a row twice per statement.
            let mut seen = HashSet::new();
            let mut unique: Vec<Vec<Param>> =
                all.into_iter().rev().filter(|p| seen.insert(format!("{:?}", &p[..nkeys]))).collect();
            unique.reverse();
            all = unique;
            let conflict = names[..nkeys].join(",");
            if cols.len() == nkeys {
                format!(" ON CONFLICT ({conflict}) DO NOTHING")
            } else {
                let sets: Vec<String> = names[nkeys..].iter().map(|n| format!("{n}=excluded.{n}")).collect();
                format!(" ON CONFLICT ({conflict}) DO UPDATE SET {}", sets.join(","))
            }
        } else {
            String::new()
        };
        // Multi-row statements, their row counts powers of two so few distinct statements get
        // prepared and cached; within the databases' limits on bound parameters.
        let limit = match dialect {
            Dialect::Sqlite => 32_766,
            Dialect::Postgres => 65_535,
        };
        let most = (limit / cols.len().max(1)).min(self.batch_size).clamp(1, 512);
        let most = 1usize << (usize::BITS - 1 - most.leading_zeros());
        let mut start = 0;
        while start < all.len() {
            let left = all.len() - start;
            let n = if left >= most { most } else { 1usize << (usize::BITS - 1 - left.leading_zeros()) };
            let tuples: Vec<String> = (0..n)
                .map(|r| {
                    let ps: Vec<String> = (0..cols.len()).map(|c| placeholder(r * cols.len() + c + 1, c)).collect();
                    format!("({})", ps.join(","))
                })
                .collect();
            let sql = format!("INSERT INTO {table} ({}) VALUES {}{suffix}", names.join(","), tuples.join(","));
            let values: Vec<Param> = all[start..start + n].iter().flatten().cloned().collect();
            session.execute(&sql, &values).await?;
            start += n;
        }
        Ok(())
    }

    /// Writes `records` in one transaction and commits it.
    pub async fn put(&mut self, records: Vec<ConnectRecord>) -> anyhow::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rows: Vec<Row> = records.iter().map(|r| self.row(r)).collect::<anyhow::Result<_>>()?;
        let mut session = self.db.begin().await?;
        let mut learned = HashMap::new();
        let mut start = 0;
        while start < rows.len() {
            let len = rows[start..].iter().take_while(|r| r.same_shape(&rows[start])).count();
            self.write(&mut session, &rows[start..start + len], &mut learned).await?;
            start += len;
        }
        session.commit().await?;
        self.tables.extend(learned);
        Ok(())
    }
}

impl SinkTask for JdbcSinkTask {
    async fn put(&mut self, records: Vec<ConnectRecord>) -> anyhow::Result<()> {
        JdbcSinkTask::put(self, records).await
    }

    /// Every put committed its own transaction.
    async fn flush(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}
