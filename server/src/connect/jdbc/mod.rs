//! Confluent's JDBC connectors (`io.confluent.connect.jdbc.JdbcSourceConnector` and
//! `JdbcSinkConnector`) for SQLite and PostgreSQL: their config keys, the connector-level checks
//! `/config/validate` reports (in Kafka's and Confluent's words), and how a source connector's
//! tables split into task configs. The tasks live in `source` and `sink`; the databases, URLs
//! and SQL dialects in `db`; value conversions in `types`.
//!
//! Deliberate differences from upstream, all documented where they are made: the incrementing
//! and timestamp column names must be given (no auto-detection); a `tables` task config lists
//! unquoted `schema.table` names; the sink also takes schemaless JSON maps.

mod db;
mod sink;
mod source;
mod types;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use db::TableId;
pub use sink::JdbcSinkTask;
pub use source::JdbcSourceTask;

use super::plugin::{list, number, require, Config, ConfigDef, ConfigErrors};
use db::Db;

pub const SOURCE_CONFIG: &[ConfigDef] = &[
    ConfigDef::required("connection.url", "STRING", "JDBC connection URL: jdbc:sqlite:<path> or jdbc:postgresql://host[:port]/database."),
    ConfigDef::optional("connection.user", "STRING", "", "JDBC connection user."),
    ConfigDef::optional("connection.password", "PASSWORD", "", "JDBC connection password."),
    ConfigDef::optional(
        "mode",
        "STRING",
        "",
        "The mode for updating a table each time it is polled: bulk, incrementing, timestamp or timestamp+incrementing.",
    ),
    ConfigDef::optional(
        "incrementing.column.name",
        "STRING",
        "",
        "The name of the strictly incrementing column to use to detect new rows.",
    ),
    ConfigDef::optional(
        "timestamp.column.name",
        "LIST",
        "",
        "Comma separated list of one or more timestamp columns to detect new or modified rows using the COALESCE SQL \
         function.",
    ),
    ConfigDef::optional("table.whitelist", "LIST", "", "List of tables to include in copying."),
    ConfigDef::optional("table.blacklist", "LIST", "", "List of tables to exclude from copying."),
    ConfigDef::optional(
        "query",
        "STRING",
        "",
        "If specified, the query to perform to select new or updated rows; a WHERE clause is appended in the \
         incremental modes.",
    ),
    ConfigDef::required(
        "topic.prefix",
        "STRING",
        "Prefix to prepend to table names to generate the name of the Kafka topic to publish data to, or in the case \
         of a custom query, the full name of the topic to publish to.",
    ),
    ConfigDef::optional("poll.interval.ms", "INT", "5000", "Frequency in ms to poll for new data in each table."),
    ConfigDef::optional(
        "batch.max.rows",
        "INT",
        "100",
        "Maximum number of rows to include in a single batch when polling for new data.",
    ),
    ConfigDef::optional(
        "timestamp.delay.interval.ms",
        "LONG",
        "0",
        "How long to wait after a row with certain timestamp appears before we include it in the result.",
    ),
];

pub const SINK_CONFIG: &[ConfigDef] = &[
    ConfigDef::required(
        "connection.url",
        "STRING",
        "JDBC connection URL: jdbc:sqlite:<path> or jdbc:postgresql://host[:port]/database.",
    ),
    ConfigDef::optional("connection.user", "STRING", "", "JDBC connection user."),
    ConfigDef::optional("connection.password", "PASSWORD", "", "JDBC connection password."),
    ConfigDef::optional("insert.mode", "STRING", "insert", "The insertion mode to use: insert, upsert or update."),
    ConfigDef::optional("pk.mode", "STRING", "none", "The primary key mode: none, kafka, record_key or record_value."),
    ConfigDef::optional("pk.fields", "LIST", "", "List of comma-separated primary key field names."),
    ConfigDef::optional(
        "auto.create",
        "BOOLEAN",
        "false",
        "Whether to automatically create the destination table based on record schema if it is found to be missing.",
    ),
    ConfigDef::optional(
        "table.name.format",
        "STRING",
        "${topic}",
        "A format string for the destination table name, which may contain '${topic}' as a placeholder for the \
         originating topic name.",
    ),
    ConfigDef::optional(
        "batch.size",
        "INT",
        "3000",
        "Specifies how many records to attempt to batch together for insertion into the destination table.",
    ),
    ConfigDef::optional(
        "delete.enabled",
        "BOOLEAN",
        "false",
        "Whether to treat null record values as deletes. Requires pk.mode to be record_key.",
    ),
    ConfigDef::optional(
        "fields.whitelist",
        "LIST",
        "",
        "List of comma-separated record value field names. If empty, all fields from the record value are used.",
    ),
];

/// How long a connector check waits for the database.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

fn add(errors: &mut ConfigErrors, key: &str, message: impl Into<String>) {
    errors.entry(key.to_string()).or_default().push(message.into());
}

fn get<'a>(config: &'a Config, key: &str) -> &'a str {
    config.get(key).map(|v| v.trim()).unwrap_or("")
}

/// Checks `connection.url` and that the database answers (within a few seconds).
async fn check_connection(config: &Config, errors: &mut ConfigErrors, create: bool) {
    require(config, "connection.url", errors);
    let url = get(config, "connection.url");
    if url.is_empty() {
        return;
    }
    let target = db::parse_url(url, None, None);
    let target = match target {
        Ok(target) => target,
        Err(reason) => {
            return add(
                errors,
                "connection.url",
                format!("Invalid value {url} for configuration connection.url: {reason}"),
            )
        }
    };
    // A sink creates its SQLite file on first write; checking must not create it.
    if let (true, db::Target::Sqlite(path)) = (create, &target) {
        if !path.exists() {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            if !dir.is_dir() {
                add(
                    errors,
                    "connection.url",
                    format!("Could not connect to the database: directory {} does not exist", dir.display()),
                );
            }
            return;
        }
    }
    match tokio::time::timeout(CHECK_TIMEOUT, Db::connect(config, false, CHECK_TIMEOUT)).await {
        Ok(Ok(db)) => db.close().await,
        Ok(Err(e)) => add(errors, "connection.url", format!("Could not connect to the database: {e:#}")),
        Err(_) => add(
            errors,
            "connection.url",
            format!("Could not connect to the database within {} s", CHECK_TIMEOUT.as_secs()),
        ),
    }
}

/// The source connector's checks.
pub async fn validate_source(config: &Config) -> ConfigErrors {
    let mut errors = ConfigErrors::new();
    check_connection(config, &mut errors, false).await;
    let mode = get(config, "mode");
    match mode {
        "" => add(&mut errors, "mode", "Query mode must be specified"),
        "bulk" | "incrementing" | "timestamp" | "timestamp+incrementing" => {}
        other => add(
            &mut errors,
            "mode",
            format!(
                "Invalid value {other} for configuration mode: String must be one of: , bulk, timestamp, incrementing, \
                 timestamp+incrementing"
            ),
        ),
    }
    if mode.contains("incrementing") && get(config, "incrementing.column.name").is_empty() {
        add(
            &mut errors,
            "incrementing.column.name",
            format!("Missing required configuration \"incrementing.column.name\" for mode {mode} (warren does not auto-detect the auto-increment column)"),
        );
    }
    if mode.contains("timestamp") && list(config, "timestamp.column.name").is_empty() {
        add(
            &mut errors,
            "timestamp.column.name",
            format!("Missing required configuration \"timestamp.column.name\" for mode {mode}"),
        );
    }
    let (whitelist, blacklist) = (list(config, "table.whitelist"), list(config, "table.blacklist"));
    if !get(config, "query").is_empty() && (!whitelist.is_empty() || !blacklist.is_empty()) {
        add(&mut errors, "query", "query may not be combined with whole-table copying settings.");
    }
    if !whitelist.is_empty() && !blacklist.is_empty() {
        add(&mut errors, "table.whitelist", "table.whitelist and table.blacklist are exclusive.");
        add(&mut errors, "table.blacklist", "table.whitelist and table.blacklist are exclusive.");
    }
    require(config, "topic.prefix", &mut errors);
    number::<i32>(config, "poll.interval.ms", 5000, &mut errors);
    number::<i32>(config, "batch.max.rows", 100, &mut errors);
    number::<i64>(config, "timestamp.delay.interval.ms", 0, &mut errors);
    errors
}

/// The sink connector's checks.
pub async fn validate_sink(config: &Config) -> ConfigErrors {
    let mut errors = ConfigErrors::new();
    check_connection(config, &mut errors, true).await;
    let enumerated = |key: &str, default: &str, valid: &[&str], errors: &mut ConfigErrors| -> String {
        let value = config.get(key).map(|v| v.trim().to_string()).unwrap_or_else(|| default.to_string());
        // Confluent's EnumValidator takes the lower- or upper-case name.
        let lower = value.to_ascii_lowercase();
        if !valid.contains(&lower.as_str()) || (value != lower && value != value.to_ascii_uppercase()) {
            add(errors, key, format!("Invalid value {value} for configuration {key}: Invalid enumerator"));
        }
        lower
    };
    enumerated("insert.mode", "insert", &["insert", "upsert", "update"], &mut errors);
    let pk_mode = enumerated("pk.mode", "none", &["none", "kafka", "record_key", "record_value"], &mut errors);
    let pk_fields = list(config, "pk.fields");
    if pk_mode == "kafka" && !pk_fields.is_empty() && pk_fields.len() != 3 {
        add(
            &mut errors,
            "pk.fields",
            format!(
                "PK mode for table '{}' is KAFKA so there should either be no field names defined for defaults \
                 [__connect_topic, __connect_partition, __connect_offset] to be applicable, or exactly 3, defined fields \
                 are: {pk_fields:?}",
                get(config, "table.name.format")
            ),
        );
    }
    let delete_enabled = get(config, "delete.enabled").eq_ignore_ascii_case("true");
    if !matches!(get(config, "delete.enabled").to_ascii_lowercase().as_str(), "" | "true" | "false") {
        add(
            &mut errors,
            "delete.enabled",
            format!(
                "Invalid value {} for configuration delete.enabled: Expected value to be either true or false",
                get(config, "delete.enabled")
            ),
        );
    }
    if !matches!(get(config, "auto.create").to_ascii_lowercase().as_str(), "" | "true" | "false") {
        add(
            &mut errors,
            "auto.create",
            format!(
                "Invalid value {} for configuration auto.create: Expected value to be either true or false",
                get(config, "auto.create")
            ),
        );
    }
    if delete_enabled && pk_mode != "record_key" {
        add(&mut errors, "delete.enabled", "Primary key mode must be 'record_key' when delete support is enabled");
    }
    if config.get("table.name.format").is_some_and(|f| f.trim().is_empty()) {
        add(
            &mut errors,
            "table.name.format",
            "Invalid value  for configuration table.name.format: String may not be empty",
        );
    }
    number::<i32>(config, "batch.size", 3000, &mut errors);
    errors
}

/// ConnectorUtils.groupPartitions: `n` contiguous groups, the first `len % n` one larger.
fn group<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    let (size, extra) = (items.len() / n, items.len() % n);
    let mut groups = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = size + usize::from(i < extra);
        groups.push(items[start..start + len].to_vec());
        start += len;
    }
    groups
}

/// The tables a source connector copies: the database's user tables, kept by the whitelist or
/// dropped by the blacklist (an entry names a table as `schema.table` or just `table`).
pub async fn source_tables(config: &Config) -> anyhow::Result<Vec<TableId>> {
    let db = Db::connect(config, false, Duration::from_secs(30)).await?;
    let mut session = db.begin().await?;
    let tables = session.tables().await?;
    drop(session);
    db.close().await;
    let (whitelist, blacklist) = (list(config, "table.whitelist"), list(config, "table.blacklist"));
    let named = |names: &[String], t: &TableId| names.iter().any(|n| *n == t.fqn() || *n == t.name);
    Ok(tables
        .into_iter()
        .filter(|t| whitelist.is_empty() || named(&whitelist, t))
        .filter(|t| !named(&blacklist, t))
        .collect())
}

/// The task configs for `max_tasks`: one for a custom query; else the tables split into
/// min(#tables, max_tasks) contiguous groups, each config the connector's plus `tables`.
pub async fn source_task_configs(config: &Config, max_tasks: usize) -> anyhow::Result<Vec<Config>> {
    let with_tables = |tables: String| {
        let mut task = config.clone();
        task.insert("tables".into(), tables);
        task
    };
    if !get(config, "query").is_empty() {
        return Ok(vec![with_tables(String::new())]);
    }
    let tables: Vec<String> = source_tables(config).await?.iter().map(TableId::fqn).collect();
    if tables.is_empty() {
        return Ok(vec![with_tables(String::new())]);
    }
    let n = tables.len().min(max_tasks.max(1));
    Ok(group(&tables, n).into_iter().map(|g| with_tables(g.join(","))).collect())
}
