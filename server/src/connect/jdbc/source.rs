//! The JDBC source task: polls its tables (or the connector's custom query) in one of Confluent's
//! modes and turns new rows into records for `topic.prefix + table`, with the source partition
//! and offset maps upstream writes, so offsets committed by Kafka's own workers resume here and
//! the other way round.
//!
//! SQL per mode (`t` the table, columns table-qualified as upstream's `ColumnId` renders them;
//! bare in query mode, where the clause is appended to the user's query):
//! - bulk: `SELECT * FROM t`, every poll the whole table;
//! - incrementing: `... WHERE t.inc > ? ORDER BY t.inc ASC`;
//! - timestamp: `... WHERE TS > ? AND TS < ? ORDER BY TS ASC`;
//! - timestamp+incrementing: `... WHERE TS < ? AND ((TS = ? AND t.inc > ?) OR TS > ?) ORDER BY TS,t.inc ASC`;
//!
//! where TS is the timestamp column, or COALESCE of several, and the upper bound is the
//! database's clock minus `timestamp.delay.interval.ms`. Upstream keeps a result set open across
//! polls; a task here must be cancel-safe, so instead each query takes at most
//! `batch.max.rows` rows (`LIMIT`) and the next one starts after the last offset. In timestamp
//! mode, where rows sharing a timestamp are not ordered further, a full batch gives back its
//! trailing rows of the last timestamp so the next query (`TS > last`) does not skip their peers.
//!
//! On SQLite, TS is each column as milliseconds: text read by `julianday` (what SQLite's date
//! functions accept, UTC) and integers taken as milliseconds. On PostgreSQL columns compare
//! as they are, with the bound value cast from UTC text.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::json;
use tokio::time::Instant;

use super::db::{ColumnInfo, Db, Dialect, Param, ResultSet, Session, TableId};
use super::types::{decimal_text, micros_text, Kind};
use crate::connect::data::{Schema, Value};
use crate::connect::plugin::{list, offset_of, Config, Offsets, SourceRecord, SourceTask};
use crate::connect::topics::OffsetMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bulk,
    Incrementing,
    Timestamp,
    TimestampIncrementing,
}

impl Mode {
    fn parse(text: &str) -> anyhow::Result<Mode> {
        Ok(match text.trim() {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            "" => bail!("Query mode must be specified"),
            other => bail!("Invalid value {other} for configuration mode"),
        })
    }

    fn incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    fn timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

/// One table (or the custom query) and where it stands.
#[derive(Debug, Clone)]
struct Querier {
    /// None: the connector's custom query.
    table: Option<TableId>,
    topic: String,
    partition: OffsetMap,
    /// The last incrementing value seen (-1: none yet).
    incrementing: i64,
    /// The last timestamp seen, microseconds since the epoch (0: none yet).
    timestamp_micros: i64,
    next_due: Instant,
}

/// What a query of one querier produced.
struct Batch {
    records: Vec<SourceRecord>,
    incrementing: i64,
    timestamp_micros: i64,
    /// A full batch: poll the table again right away.
    full: bool,
}

pub struct JdbcSourceTask {
    db: Db,
    mode: Mode,
    query: String,
    incrementing_column: String,
    timestamp_columns: Vec<String>,
    poll_interval: Duration,
    batch_max_rows: usize,
    delay_micros: i64,
    queriers: Vec<Querier>,
}

fn object(value: serde_json::Value) -> OffsetMap {
    match value {
        serde_json::Value::Object(map) => map,
        _ => OffsetMap::new(),
    }
}

fn setting<T: std::str::FromStr>(config: &Config, key: &str, default: T) -> anyhow::Result<T> {
    match config.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| anyhow::anyhow!("Invalid value {v} for configuration {key}")),
    }
}

impl JdbcSourceTask {
    /// Connects and resumes each table (or the query) from its committed offset.
    pub async fn start(config: &Config, offsets: &Offsets) -> anyhow::Result<JdbcSourceTask> {
        let mode = Mode::parse(config.get("mode").map(String::as_str).unwrap_or(""))?;
        let get = |k: &str| config.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let (query, prefix, incrementing_column) = (get("query"), get("topic.prefix"), get("incrementing.column.name"));
        let timestamp_columns = list(config, "timestamp.column.name");
        if mode.incrementing() && incrementing_column.is_empty() {
            bail!("Missing required configuration \"incrementing.column.name\" for mode incrementing");
        }
        if mode.timestamp() && timestamp_columns.is_empty() {
            bail!("Missing required configuration \"timestamp.column.name\" for mode timestamp");
        }
        let poll_interval = Duration::from_millis(setting(config, "poll.interval.ms", 5000u64)?.max(1));
        let batch_max_rows = setting(config, "batch.max.rows", 100usize)?.max(1);
        let delay_micros = setting(config, "timestamp.delay.interval.ms", 0i64)?.saturating_mul(1000);
        let db = Db::connect(config, false, Duration::from_secs(30)).await?;

        let mut targets: Vec<Option<TableId>> = Vec::new();
        if !query.is_empty() {
            targets.push(None);
        } else {
            let names = list(config, "tables");
            let mut session = db.begin().await?;
            let current = session.current_schema().await?;
            for name in names {
                let mut table = TableId::parse(&name);
                if db.dialect() == Dialect::Postgres && table.schema.is_none() {
                    table.schema = current.clone();
                }
                targets.push(Some(table));
            }
        }
        let now = Instant::now();
        let queriers = targets
            .into_iter()
            .map(|table| {
                let (topic, partition, legacy) = match &table {
                    None => (prefix.clone(), object(json!({"query": "query"})), None),
                    Some(t) if mode == Mode::Bulk => {
                        (format!("{prefix}{}", t.name), object(json!({"table": t.name})), None)
                    }
                    Some(t) => (
                        format!("{prefix}{}", t.name),
                        object(json!({"protocol": "1", "table": t.fqn()})),
                        // Offsets from before upstream's protocol 1 name the bare table.
                        Some(object(json!({"table": t.name}))),
                    ),
                };
                let offset = offset_of(offsets, &partition).or_else(|| legacy.and_then(|l| offset_of(offsets, &l)));
                let int = |k: &str| offset.and_then(|o| o.get(k)).and_then(serde_json::Value::as_i64);
                let timestamp_micros = match (int("timestamp"), int("timestamp_nanos")) {
                    (Some(ms), Some(nanos)) => ms.div_euclid(1000) * 1_000_000 + nanos / 1000,
                    (Some(ms), None) => ms * 1000,
                    _ => 0,
                };
                let incrementing = int("incrementing").unwrap_or(-1);
                Querier { table, topic, partition, incrementing, timestamp_micros, next_due: now }
            })
            .collect();
        Ok(JdbcSourceTask {
            db,
            mode,
            query,
            incrementing_column,
            timestamp_columns,
            poll_interval,
            batch_max_rows,
            delay_micros,
            queriers,
        })
    }

    /// The statement for `q` and its parameters; `limit` caps the rows (None: all of them).
    fn statement(
        &self,
        dialect: Dialect,
        q: &Querier,
        columns: &[ColumnInfo],
        end_micros: i64,
        limit: Option<usize>,
    ) -> (String, Vec<Param>) {
        let column = |name: &str| match &q.table {
            Some(t) => format!("{}.{}", t.quoted(dialect), dialect.quote(name)),
            None => dialect.quote(name),
        };
        let mut sql = match &q.table {
            // Types PostgreSQL rows cannot be read in come as text (json, interval, arrays, ...).
            Some(t) if columns.iter().any(|c| !c.readable) => {
                let list: Vec<String> = columns
                    .iter()
                    .map(|c| match c.readable {
                        true => dialect.quote(&c.name),
                        false => format!("CAST({} AS TEXT) AS {}", dialect.quote(&c.name), dialect.quote(&c.name)),
                    })
                    .collect();
                format!("SELECT {} FROM {}", list.join(", "), t.quoted(dialect))
            }
            Some(t) => format!("SELECT * FROM {}", t.quoted(dialect)),
            None => self.query.trim().trim_end_matches(';').to_string(),
        };
        let mut params = Vec::new();
        let ts_param = |micros: i64, params: &mut Vec<Param>| {
            params.push(match dialect {
                Dialect::Sqlite => Param::Int(micros.div_euclid(1000)),
                Dialect::Postgres => Param::Text(micros_text(micros)),
            });
            match dialect {
                Dialect::Sqlite => "?".to_string(),
                Dialect::Postgres => format!("CAST(${} AS TIMESTAMP)", params.len()),
            }
        };
        let inc_param = |value: i64, params: &mut Vec<Param>| {
            params.push(Param::Int(value));
            dialect.placeholder(params.len())
        };
        let ts_exprs: Vec<String> = self
            .timestamp_columns
            .iter()
            .map(|c| match dialect {
                Dialect::Sqlite => {
                    let c = column(c);
                    format!(
                        "(CASE WHEN typeof({c}) IN ('integer', 'real') THEN CAST({c} AS INTEGER) \
                         ELSE CAST(round((julianday({c}) - 2440587.5) * 86400000.0) AS INTEGER) END)"
                    )
                }
                Dialect::Postgres => column(c),
            })
            .collect();
        let ts = match ts_exprs.len() {
            1 => ts_exprs[0].clone(),
            _ => format!("COALESCE({})", ts_exprs.join(",")),
        };
        let inc = column(&self.incrementing_column);
        match self.mode {
            Mode::Bulk => {}
            Mode::Incrementing => {
                let p = inc_param(q.incrementing, &mut params);
                sql.push_str(&format!(" WHERE {inc} > {p} ORDER BY {inc} ASC"));
            }
            Mode::Timestamp => {
                let (p1, p2) = (ts_param(q.timestamp_micros, &mut params), ts_param(end_micros, &mut params));
                sql.push_str(&format!(" WHERE {ts} > {p1} AND {ts} < {p2} ORDER BY {ts} ASC"));
            }
            Mode::TimestampIncrementing => {
                let p1 = ts_param(end_micros, &mut params);
                let p2 = ts_param(q.timestamp_micros, &mut params);
                let p3 = inc_param(q.incrementing, &mut params);
                let p4 = ts_param(q.timestamp_micros, &mut params);
                sql.push_str(&format!(
                    " WHERE {ts} < {p1} AND (({ts} = {p2} AND {inc} > {p3}) OR {ts} > {p4}) ORDER BY {ts},{inc} ASC"
                ));
            }
        }
        if let Some(limit) = limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        (sql, params)
    }

    /// Runs `q`'s query once and makes its rows records.
    async fn run(&self, session: &mut Session, q: &Querier) -> anyhow::Result<Batch> {
        let dialect = session.dialect();
        let columns = match &q.table {
            Some(t) => {
                let columns = session.columns(t).await?;
                if columns.is_empty() {
                    bail!("Table {} does not exist", t.fqn());
                }
                columns
            }
            None => Vec::new(),
        };
        let end_micros = if self.mode.timestamp() { session.now_micros().await? - self.delay_micros } else { i64::MAX };
        let limit = (self.mode != Mode::Bulk).then_some(self.batch_max_rows);
        let (sql, params) = self.statement(dialect, q, &columns, end_micros, limit);
        let mut result = session.select(&sql, &params, &columns).await?;
        let mut full = limit.is_some_and(|l| result.rows.len() >= l);
        if full && self.mode == Mode::Timestamp {
            let tail = self.trailing_peers(&result)?;
            if tail < result.rows.len() {
                result.rows.truncate(result.rows.len() - tail);
            } else {
                // A whole batch shares one timestamp: take all its peers, however many.
                let (sql, params) = self.statement(dialect, q, &columns, end_micros, None);
                result = session.select(&sql, &params, &columns).await?;
                full = false;
            }
        }
        self.records(q, result, full)
    }

    /// How many rows at the end of a timestamp-mode batch share the last row's timestamp.
    fn trailing_peers(&self, result: &ResultSet) -> anyhow::Result<usize> {
        let stamps: Vec<Option<i64>> =
            result.rows.iter().map(|row| self.timestamp_of(result, row)).collect::<anyhow::Result<_>>()?;
        let last = stamps.last().copied().flatten();
        Ok(stamps.iter().rev().take_while(|s| **s == last).count())
    }

    fn index(result: &ResultSet, name: &str) -> Option<usize> {
        let columns = &result.columns;
        columns.iter().position(|c| c.0 == name).or_else(|| columns.iter().position(|c| c.0.eq_ignore_ascii_case(name)))
    }

    /// The row's timestamp (the first non-null timestamp column), in microseconds.
    fn timestamp_of(&self, result: &ResultSet, row: &[Value]) -> anyhow::Result<Option<i64>> {
        for name in &self.timestamp_columns {
            let i =
                Self::index(result, name).with_context(|| format!("Timestamp column {name} is not in the result"))?;
            match (&row[i], result.columns[i].1) {
                (Value::Null, _) => continue,
                (Value::Int(micros), Kind::Timestamp) => return Ok(Some(*micros)),
                // An integer column holding milliseconds (SQLite).
                (Value::Int(ms), _) => return Ok(Some(ms.saturating_mul(1000))),
                (other, kind) => bail!("Timestamp column {name} of type {kind:?} holds {other:?}"),
            }
        }
        Ok(None)
    }

    fn records(&self, q: &Querier, result: ResultSet, full: bool) -> anyhow::Result<Batch> {
        let fields = result.columns.iter().map(|(name, kind, optional)| (name.clone(), kind.schema(*optional)));
        let mut schema = Schema::structure(fields);
        schema.name = q.table.as_ref().map(|t| t.name.clone());
        let inc_index = match self.mode.incrementing() {
            true if !result.rows.is_empty() => {
                Some(Self::index(&result, &self.incrementing_column).with_context(|| {
                    format!("Incrementing column {} is not in the result", self.incrementing_column)
                })?)
            }
            _ => None,
        };
        let (mut incrementing, mut timestamp_micros) = (q.incrementing, q.timestamp_micros);
        let mut records = Vec::with_capacity(result.rows.len());
        for row in &result.rows {
            if let Some(i) = inc_index {
                incrementing = match (&row[i], result.columns[i].1) {
                    (Value::Int(v), _) => *v,
                    (Value::Bytes(b), Kind::Decimal(0)) => decimal_text(b, 0)
                        .parse()
                        .with_context(|| format!("Incrementing column {} exceeds a long", self.incrementing_column))?,
                    (Value::Null, kind) => bail!("Null value for incrementing column of type: {kind:?}"),
                    (_, kind) => {
                        bail!("Incrementing column {} of type {kind:?} is not integral", self.incrementing_column)
                    }
                };
            }
            if self.mode.timestamp() {
                if let Some(micros) = self.timestamp_of(&result, row)? {
                    timestamp_micros = micros;
                }
            }
            let offset = match self.mode {
                Mode::Bulk => None,
                Mode::Incrementing => Some(object(json!({ "incrementing": incrementing }))),
                Mode::Timestamp | Mode::TimestampIncrementing => {
                    let ms = timestamp_micros.div_euclid(1000);
                    let nanos = timestamp_micros.rem_euclid(1_000_000) * 1000;
                    let mut offset = object(json!({ "timestamp": ms, "timestamp_nanos": nanos }));
                    if self.mode == Mode::TimestampIncrementing {
                        offset.insert("incrementing".into(), incrementing.into());
                    }
                    Some(offset)
                }
            };
            let values = row.iter().zip(&result.columns).map(|(value, (name, kind, _))| {
                let value = match (value, kind) {
                    (Value::Int(micros), Kind::Timestamp) => Value::Int(micros.div_euclid(1000)),
                    _ => value.clone(),
                };
                (name.clone(), value)
            });
            records.push(SourceRecord {
                partition: q.partition.clone(),
                offset,
                topic: q.topic.clone(),
                key_schema: None,
                key: Value::Null,
                value_schema: Some(schema.clone()),
                value: Value::Struct(values.collect()),
                timestamp: None,
            });
        }
        Ok(Batch { records, incrementing, timestamp_micros, full })
    }

    /// Polls every table that is due. Cancel-safe: offsets move only once every query is done.
    pub async fn poll(&mut self) -> anyhow::Result<Vec<SourceRecord>> {
        let now = Instant::now();
        let due: Vec<usize> = (0..self.queriers.len()).filter(|i| self.queriers[*i].next_due <= now).collect();
        if due.is_empty() {
            let next = self.queriers.iter().map(|q| q.next_due).min().unwrap_or(now + self.poll_interval);
            tokio::time::sleep_until(next.min(now + self.poll_interval)).await;
            return Ok(Vec::new());
        }
        let mut session = self.db.begin().await?;
        let mut batches = Vec::with_capacity(due.len());
        for i in &due {
            let q = &self.queriers[*i];
            let what = q.table.as_ref().map_or_else(|| "the query".to_string(), |t| t.fqn());
            batches.push(self.run(&mut session, q).await.with_context(|| format!("polling {what}"))?);
        }
        session.commit().await?;
        let now = Instant::now();
        let mut records = Vec::new();
        for (i, batch) in due.into_iter().zip(batches) {
            let q = &mut self.queriers[i];
            q.incrementing = batch.incrementing;
            q.timestamp_micros = batch.timestamp_micros;
            q.next_due = if batch.full { now } else { now + self.poll_interval };
            records.extend(batch.records);
        }
        Ok(records)
    }
}

impl SourceTask for JdbcSourceTask {
    async fn poll(&mut self) -> anyhow::Result<Vec<SourceRecord>> {
        JdbcSourceTask::poll(self).await
    }
}
