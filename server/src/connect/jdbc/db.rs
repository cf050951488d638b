//! The databases the JDBC connectors speak to, through sqlx: a JDBC URL (`jdbc:sqlite:<path>`,
//! `jdbc:postgresql://host[:port]/db[?user=..&password=..]`) made into connect options, a
//! one-connection pool, each dialect's identifier quoting and placeholders, its catalog (tables,
//! columns, the database's clock) and its result rows decoded into Connect values.
//!
//! Everything runs inside a `Session`, a transaction: dropping one (a cancelled poll or put)
//! rolls it back, so a task never leaves half a batch behind. PostgreSQL sessions run with
//! `TimeZone=UTC`, so `timestamp` and `timestamptz` columns compare with the UTC text the
//! connectors bind (Confluent's default `db.timezone` is UTC too). SQLite identifiers are quoted
//! with backticks as upstream does; unlike double quotes, SQLite never reads a backticked name
//! that matches no column as a string literal, so a typo fails instead of matching nothing.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgSslMode, PgTypeKind, PgValueFormat};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Column, Pool, Postgres, Row, Sqlite, Transaction, TypeInfo, ValueRef};

use super::types::{pg_decode, pg_kind, sqlite_kind, Kind, PgCell, Stored};
use crate::connect::data::Value;
use crate::connect::plugin::Config;

/// The URL forms warren's JDBC connectors accept, for error messages.
pub const URL_FORMS: &str =
    "jdbc:sqlite:<path> or jdbc:postgresql://host[:port]/database[?user=<user>&password=<password>]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn quote(self, identifier: &str) -> String {
        match self {
            Dialect::Sqlite => format!("`{}`", identifier.replace('`', "``")),
            Dialect::Postgres => format!("\"{}\"", identifier.replace('"', "\"\"")),
        }
    }

    /// The `n`th (1-based) bound parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".into(),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

/// Where a JDBC URL points.
#[derive(Debug, Clone)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(Box<PgConnectOptions>),
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a JDBC URL; `user` and `password` (the connector's `connection.user` and
/// `connection.password`) win over the URL's own. The error is the reason, for Kafka's
/// "Invalid value" message.
pub fn parse_url(url: &str, user: Option<&str>, password: Option<&str>) -> Result<Target, String> {
    let unsupported = || format!("warren supports {URL_FORMS}");
    let url = url.trim();
    if let Some(path) = url.strip_prefix("jdbc:sqlite:") {
        if path.is_empty() || path.starts_with(":memory:") {
            return Err(format!("no database file given; {}", unsupported()));
        }
        return Ok(Target::Sqlite(PathBuf::from(path)));
    }
    let rest = url.strip_prefix("jdbc:postgresql://").ok_or_else(unsupported)?;
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, database) = location.split_once('/').unwrap_or((location, ""));
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(unsupported)?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host given; {}", unsupported()));
    }
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(host)
        .application_name("warren-connect")
        .options([("TimeZone", "UTC")]);
    if let Some(port) = port {
        options = options.port(port.parse().map_err(|_| format!("port '{port}' is not a number"))?);
    }
    if !database.is_empty() {
        options = options.database(&percent_decode(database));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        options = match key {
            "user" => options.username(&value),
            "password" => options.password(&value),
            "sslmode" => options.ssl_mode(value.parse::<PgSslMode>().map_err(|e| format!("sslmode: {e}"))?),
            _ => options, // driver settings warren has no use for (loggerLevel, ...)
        };
    }
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        options = options.username(user);
    }
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        options = options.password(password);
    }
    Ok(Target::Postgres(Box::new(options)))
}

/// A table, by its schema (PostgreSQL) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableId {
    pub schema: Option<String>,
    pub name: String,
}

impl TableId {
    /// `schema.table` or `table`, as task configs and offsets name it (no quotes).
    pub fn parse(text: &str) -> TableId {
        match text.trim().split_once('.') {
            Some((schema, name)) => TableId { schema: Some(schema.into()), name: name.into() },
            None => TableId { schema: None, name: text.trim().into() },
        }
    }

    /// The fully qualified name without quotes (upstream's `QuoteMethod.NEVER`).
    pub fn fqn(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }

    pub fn quoted(&self, dialect: Dialect) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", dialect.quote(schema), dialect.quote(&self.name)),
            None => dialect.quote(&self.name),
        }
    }
}

/// A table column as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    /// SQLite: the declared type. PostgreSQL: the type's name (`int4`, `timestamptz`).
    pub declared: String,
    /// The type to cast a text parameter to (PostgreSQL's `format_type` without modifier).
    pub cast_type: String,
    pub not_null: bool,
    /// PostgreSQL `numeric(p, s)`: s.
    pub scale: Option<u32>,
    /// Whether rows can be read as the column is (else a source casts it to text).
    pub readable: bool,
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// Rows of a query: each column's name, Connect type and whether it may be null; the values in
/// column order, timestamps in microseconds since the epoch.
#[derive(Debug, Clone, Default)]
pub struct ResultSet {
    pub columns: Vec<(String, Kind, bool)>,
    pub rows: Vec<Vec<Value>>,
}

/// A connection pool to one database.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(Pool<Sqlite>),
    Postgres(Pool<Postgres>),
}

impl Db {
    /// Connects as `config` says (`connection.url`, `.user`, `.password`), failing after
    /// `timeout`. `create`: a missing SQLite file is created (a sink's), else it is an error.
    pub async fn connect(config: &Config, create: bool, timeout: Duration) -> anyhow::Result<Db> {
        let get = |k: &str| config.get(k).map(String::as_str);
        let url = get("connection.url").unwrap_or_default();
        let target = parse_url(url, get("connection.user"), get("connection.password"))
            .map_err(|e| anyhow::anyhow!("Invalid value {url} for configuration connection.url: {e}"))?;
        // One connection: a task does one thing at a time, SQLite has one writer anyway, and
        // sqlx caches prepared statements per connection.
        Ok(match target {
            Target::Sqlite(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(create)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new().max_connections(1).acquire_timeout(timeout);
                Db::Sqlite(pool.connect_with(options).await.with_context(|| format!("opening {}", path.display()))?)
            }
            Target::Postgres(options) => {
                let pool = PgPoolOptions::new().max_connections(1).acquire_timeout(timeout);
                Db::Postgres(pool.connect_with(*options).await.context("connecting to PostgreSQL")?)
            }
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn begin(&self) -> anyhow::Result<Session> {
        Ok(match self {
            Db::Sqlite(pool) => Session::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Session::Postgres(pool.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

fn bind_sqlite<'q>(
    mut query: Query<'q, Sqlite, SqliteArguments<'q>>,
    params: &'q [Param],
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    for param in params {
        query = match param {
            Param::Null => query.bind(None::<i64>),
            Param::Int(v) => query.bind(*v),
            Param::Float(v) => query.bind(*v),
            Param::Text(v) => query.bind(v.as_str()),
            Param::Bytes(v) => query.bind(v.as_slice()),
        };
    }
    query
}

fn bind_pg<'q>(mut query: Query<'q, Postgres, PgArguments>, params: &'q [Param]) -> Query<'q, Postgres, PgArguments> {
    for param in params {
        // A null goes as text; the SQL casts it to the column's type.
        query = match param {
            Param::Null => query.bind(None::<String>),
            Param::Int(v) => query.bind(*v),
            Param::Float(v) => query.bind(*v),
            Param::Text(v) => query.bind(v.as_str()),
            Param::Bytes(v) => query.bind(v.as_slice()),
        };
    }
    query
}

/// A transaction on the database; dropped without `commit`, it rolls back.
pub enum Session {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Session {
    pub fn dialect(&self) -> Dialect {
        match self {
            Session::Sqlite(_) => Dialect::Sqlite,
            Session::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn commit(self) -> anyhow::Result<()> {
        match self {
            Session::Sqlite(tx) => tx.commit().await?,
            Session::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Runs a statement; answers the rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> anyhow::Result<u64> {
        let done = match self {
            Session::Sqlite(tx) => {
                bind_sqlite(sqlx::query(sql), params).execute(&mut **tx).await.map(|r| r.rows_affected())
            }
            Session::Postgres(tx) => {
                bind_pg(sqlx::query(sql), params).execute(&mut **tx).await.map(|r| r.rows_affected())
            }
        };
        done.with_context(|| format!("executing {}", abbreviate(sql)))
    }

    /// The user tables, ordered as JDBC's `getTables` orders them (schema, then name).
    pub async fn tables(&mut self) -> anyhow::Result<Vec<TableId>> {
        Ok(match self {
            Session::Sqlite(tx) => {
                let sql =
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                           ORDER BY name";
                let names: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&mut **tx).await?;
                names.into_iter().map(|(name,)| TableId { schema: None, name }).collect()
            }
            Session::Postgres(tx) => {
                let sql = "SELECT table_schema::text, table_name::text FROM information_schema.tables \
                           WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') \
                           ORDER BY 1, 2";
                let names: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(&mut **tx).await?;
                names.into_iter().map(|(schema, name)| TableId { schema: Some(schema), name }).collect()
            }
        })
    }

    /// The schema unqualified names resolve to (PostgreSQL's `current_schema()`).
    pub async fn current_schema(&mut self) -> anyhow::Result<Option<String>> {
        Ok(match self {
            Session::Sqlite(_) => None,
            Session::Postgres(tx) => sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&mut **tx).await?,
        })
    }

    /// The columns of `table` in order; empty when it does not exist.
    pub async fn columns(&mut self, table: &TableId) -> anyhow::Result<Vec<ColumnInfo>> {
        let quoted = table.quoted(self.dialect());
        Ok(match self {
            Session::Sqlite(tx) => {
                let sql = "SELECT name, type, \"notnull\" FROM pragma_table_info(?) ORDER BY cid";
                let rows: Vec<(String, String, i64)> =
                    sqlx::query_as(sql).bind(&table.name).fetch_all(&mut **tx).await?;
                rows.into_iter()
                    .map(|(name, declared, not_null)| ColumnInfo {
                        name,
                        cast_type: declared.clone(),
                        declared,
                        not_null: not_null != 0,
                        scale: None,
                        readable: true,
                    })
                    .collect()
            }
            Session::Postgres(tx) => {
                let sql = "SELECT a.attname::text, t.typname::text, format_type(a.atttypid, NULL), a.attnotnull, \
                           CASE WHEN a.atttypid = 1700 AND a.atttypmod >= 4 THEN (a.atttypmod - 4) & 65535 END, \
                           t.typtype::text \
                           FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                           WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
                let rows: Vec<(String, String, String, bool, Option<i32>, String)> =
                    sqlx::query_as(sql).bind(&quoted).fetch_all(&mut **tx).await?;
                rows.into_iter()
                    .map(|(name, declared, cast_type, not_null, scale, typtype)| ColumnInfo {
                        readable: pg_kind(&declared).is_some() || typtype == "e",
                        name,
                        declared,
                        cast_type,
                        not_null,
                        scale: scale.map(|s| s as u32),
                    })
                    .collect()
            }
        })
    }

    /// The database's clock, in microseconds since the epoch (upstream's `currentTimeOnDB`).
    pub async fn now_micros(&mut self) -> anyhow::Result<i64> {
        Ok(match self {
            Session::Sqlite(tx) => {
                let sql = "SELECT CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";
                sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut **tx).await? * 1000
            }
            Session::Postgres(tx) => {
                let sql = "SELECT CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT)";
                sqlx::query_scalar(sql).fetch_one(&mut **tx).await?
            }
        })
    }

    /// Runs a query and decodes its rows. `known`: the table's columns in table mode (declared
    /// types, nullability, numeric scales); empty for a custom query, whose columns are all
    /// optional and typed by what the driver reports.
    pub async fn select(&mut self, sql: &str, params: &[Param], known: &[ColumnInfo]) -> anyhow::Result<ResultSet> {
        let find = |name: &str| {
            known.iter().find(|c| c.name == name).or_else(|| known.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
        };
        let context = || format!("querying {}", abbreviate(sql));
        match self {
            Session::Sqlite(tx) => {
                let rows = bind_sqlite(sqlx::query(sql), params).fetch_all(&mut **tx).await.with_context(context)?;
                let Some(first) = rows.first() else { return Ok(ResultSet::default()) };
                let mut stored: Vec<Vec<Stored>> = Vec::with_capacity(rows.len());
                for row in &rows {
                    let mut cells = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        let class = {
                            let raw = row.try_get_raw(i)?;
                            if raw.is_null() {
                                "NULL"
                            } else {
                                storage_class(raw.type_info().name())
                            }
                        };
                        cells.push(match class {
                            "INTEGER" => Stored::Integer(row.try_get_unchecked(i)?),
                            "REAL" => Stored::Real(row.try_get_unchecked(i)?),
                            "TEXT" => Stored::Text(row.try_get_unchecked(i)?),
                            "BLOB" => Stored::Blob(row.try_get_unchecked(i)?),
                            _ => Stored::Null,
                        });
                    }
                    stored.push(cells);
                }
                let mut columns = Vec::new();
                for (i, column) in first.columns().iter().enumerate() {
                    let info = find(column.name());
                    let kind = info
                        .and_then(|c| sqlite_kind(&c.declared))
                        .or_else(|| sqlite_kind(column.type_info().name()))
                        .or_else(|| stored.iter().find_map(|r| r[i].kind()))
                        .unwrap_or(Kind::String);
                    columns.push((column.name().to_string(), kind, !info.is_some_and(|c| c.not_null)));
                }
                let mut out = Vec::with_capacity(stored.len());
                for row in stored {
                    let values = row.into_iter().zip(&columns).map(|(cell, (name, kind, _))| cell.convert(*kind, name));
                    out.push(values.collect::<anyhow::Result<Vec<Value>>>()?);
                }
                Ok(ResultSet { columns, rows: out })
            }
            Session::Postgres(tx) => {
                let rows = bind_pg(sqlx::query(sql), params).fetch_all(&mut **tx).await.with_context(context)?;
                let Some(first) = rows.first() else { return Ok(ResultSet::default()) };
                let mut columns = Vec::new();
                for column in first.columns() {
                    let info = find(column.name());
                    let type_info = column.type_info();
                    let kind = match pg_kind(type_info.name()) {
                        Some(kind) => kind,
                        None if matches!(type_info.kind(), PgTypeKind::Enum(_)) => Kind::String,
                        None => bail!(
                            "Column {} has PostgreSQL type {}, which warren's JDBC source cannot read; select it as \
                             text instead ({}::text AS {})",
                            column.name(),
                            type_info.name(),
                            Dialect::Postgres.quote(column.name()),
                            Dialect::Postgres.quote(column.name())
                        ),
                    };
                    columns.push((column.name().to_string(), kind, type_info.name().to_string(), info));
                }
                let mut cells: Vec<Vec<PgCell>> = Vec::with_capacity(rows.len());
                for row in &rows {
                    let mut out = Vec::with_capacity(columns.len());
                    for (i, (name, kind, type_name, _)) in columns.iter().enumerate() {
                        let raw = row.try_get_raw(i)?;
                        out.push(if raw.is_null() {
                            PgCell::Value(Value::Null)
                        } else if raw.format() == PgValueFormat::Text {
                            PgCell::Value(Value::String(raw.as_str().map_err(|e| anyhow::anyhow!("{e}"))?.to_string()))
                        } else {
                            let bytes = raw.as_bytes().map_err(|e| anyhow::anyhow!("{e}"))?;
                            pg_decode(type_name, *kind, bytes).with_context(|| format!("reading column {name}"))?
                        });
                    }
                    cells.push(out);
                }
                // A numeric column's scale: the declared one, else the largest in this batch.
                let kinds: Vec<Kind> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind, _, info))| match kind {
                        Kind::Decimal(_) => Kind::Decimal(info.and_then(|c| c.scale).unwrap_or_else(|| {
                            let scales = cells.iter().map(|r| match &r[i] {
                                PgCell::Numeric(n) => n.scale,
                                PgCell::Value(_) => 0,
                            });
                            scales.max().unwrap_or(0)
                        })),
                        other => *other,
                    })
                    .collect();
                let rows = cells
                    .into_iter()
                    .map(|row| {
                        let values = row.into_iter().zip(&kinds).map(|(cell, kind)| match (cell, kind) {
                            (PgCell::Value(v), _) => v,
                            (PgCell::Numeric(n), Kind::Decimal(scale)) => n.to_bytes(*scale),
                            (PgCell::Numeric(n), _) => n.to_bytes(n.scale),
                        });
                        values.collect()
                    })
                    .collect();
                let columns = columns
                    .into_iter()
                    .zip(kinds)
                    .map(|((name, _, _, info), kind)| (name, kind, !info.is_some_and(|c| c.not_null)))
                    .collect();
                Ok(ResultSet { columns, rows })
            }
        }
    }
}

fn storage_class(name: &str) -> &'static str {
    match name {
        "INTEGER" => "INTEGER",
        "REAL" => "REAL",
        "TEXT" => "TEXT",
        "BLOB" => "BLOB",
        _ => "NULL",
    }
}

/// A statement for an error message: its start, as a multi-row insert can be very long.
fn abbreviate(sql: &str) -> String {
    match sql.char_indices().nth(300) {
        Some((i, _)) => format!("{} ...", &sql[..i]),
        None => sql.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(
            matches!(parse_url("jdbc:sqlite:/tmp/x.db", None, None), Ok(Target::Sqlite(p)) if p == std::path::Path::new("/tmp/x.db"))
        );
        assert!(matches!(parse_url("jdbc:sqlite:rel.db", None, None), Ok(Target::Sqlite(_))));
        let Ok(Target::Postgres(pg)) =
            parse_url("jdbc:postgresql://db.example:6543/shop?user=a%40b&password=p%26w", None, None)
        else {
            panic!("postgres url")
        };
        assert_eq!(
            (pg.get_host(), pg.get_port(), pg.get_database(), pg.get_username()),
            ("db.example", 6543, Some("shop"), "a@b")
        );
        let Ok(Target::Postgres(pg)) = parse_url("jdbc:postgresql://[::1]/shop", Some("u"), Some("p")) else {
            panic!("ipv6 url")
        };
        assert_eq!((pg.get_host(), pg.get_port(), pg.get_username()), ("::1", 5432, "u"));
        for bad in ["jdbc:mysql://h/db", "postgresql://h/db", "jdbc:sqlite:", "jdbc:postgresql://h:x/db", ""] {
            assert!(parse_url(bad, None, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(Dialect::Sqlite.quote("a`b"), "`a``b`");
        assert_eq!(Dialect::Postgres.quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(TableId::parse("public.users").quoted(Dialect::Postgres), "\"public\".\"users\"");
        assert_eq!(TableId::parse("users").fqn(), "users");
    }
}
