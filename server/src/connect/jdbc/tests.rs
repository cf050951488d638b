//! The JDBC connectors against real databases: SQLite files in a temporary directory, and
//! PostgreSQL when `WARREN_TEST_POSTGRES_URL` names one (`.ci/postgres` starts one; with
//! `CI=true` its absence fails the PostgreSQL tests instead of skipping them). Every PostgreSQL
//! test works in its own schema, so tests run in parallel and again.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::db::{Db, ResultSet};
use super::*;
use crate::connect::data::{Schema, Type, Value};
use crate::connect::plugin::{Offsets, SourceRecord};
use crate::connect::transforms::ConnectRecord;

fn config(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Runs statements in one committed transaction.
async fn exec(url: &str, statements: &[&str]) {
    let db = Db::connect(&config(&[("connection.url", url)]), true, Duration::from_secs(10)).await.expect("connect");
    let mut session = db.begin().await.expect("begin");
    for sql in statements {
        session.execute(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e:#}"));
    }
    session.commit().await.expect("commit");
    db.close().await;
}

async fn select(url: &str, sql: &str) -> ResultSet {
    let db = Db::connect(&config(&[("connection.url", url)]), false, Duration::from_secs(10)).await.expect("connect");
    let mut session = db.begin().await.expect("begin");
    let result = session.select(sql, &[], &[]).await.unwrap_or_else(|e| panic!("{sql}: {e:#}"));
    drop(session); // close() waits for every connection to come back
    db.close().await;
    result
}

/// Polls until `n` records came (or a few seconds passed).
async fn poll_n(task: &mut JdbcSourceTask, n: usize) -> Vec<SourceRecord> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        out.extend(task.poll().await.expect("poll"));
    }
    out
}

/// The offsets a worker would have committed after `records`.
fn offsets_after(records: &[SourceRecord]) -> Offsets {
    let mut offsets = Offsets::new();
    for r in records {
        if let Some(offset) = &r.offset {
            let key = serde_json::Value::Object(r.partition.clone()).to_string();
            offsets.insert(key, (r.partition.clone(), offset.clone()));
        }
    }
    offsets
}

fn field<'a>(record: &'a SourceRecord, name: &str) -> &'a Value {
    record.value.get(name).unwrap_or_else(|| panic!("no field {name} in {:?}", record.value))
}

fn ids(records: &[SourceRecord]) -> Vec<i64> {
    records
        .iter()
        .map(|r| match field(r, "id") {
            Value::Int(i) => *i,
            other => panic!("id {other:?}"),
        })
        .collect()
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("jdbc:sqlite:{}", dir.path().join("test.db").display())
}

fn source(url: &str, extra: &[(&str, &str)]) -> Config {
    let mut c = config(&[("connection.url", url), ("topic.prefix", "db-"), ("poll.interval.ms", "50")]);
    c.extend(config(extra));
    c
}

#[tokio::test]
async fn sqlite_incrementing_resumes_from_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    exec(&url, &[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, avatar BLOB)",
        "INSERT INTO users (name, score, avatar) VALUES ('alice', 1.5, x'0102'), ('bob', NULL, NULL), ('carol', 3, NULL)",
    ])
    .await;
    let cfg = source(
        &url,
        &[("mode", "incrementing"), ("incrementing.column.name", "id"), ("tables", "users"), ("batch.max.rows", "2")],
    );
    let mut task = JdbcSourceTask::start(&cfg, &Offsets::new()).await.expect("start");
    let first = task.poll().await.expect("poll");
    assert_eq!(ids(&first), [1, 2], "a batch is at most batch.max.rows");
    let second = task.poll().await.expect("poll");
    assert_eq!(ids(&second), [3], "a full batch is followed at once");
    let r = &first[0];
    assert_eq!(r.topic, "db-users");
    assert_eq!(serde_json::Value::Object(r.partition.clone()), serde_json::json!({"protocol": "1", "table": "users"}));
    assert_eq!(r.offset.clone().map(serde_json::Value::Object), Some(serde_json::json!({"incrementing": 1})));
    let schema = r.value_schema.as_ref().expect("schema");
    assert_eq!(schema.name.as_deref(), Some("users"));
    assert_eq!(schema.field("name").expect("name").schema, Schema::new(Type::String));
    assert_eq!(schema.field("score").expect("score").schema, Schema::new(Type::Float64).optional());
    assert_eq!(field(r, "avatar"), &Value::Bytes(vec![1, 2]));
    assert_eq!(field(&second[0], "score"), &Value::Float(3.0));
    assert!(r.key.is_null() && r.key_schema.is_none());

    exec(&url, &["INSERT INTO users (name) VALUES ('dave')"]).await;
    let third = poll_n(&mut task, 1).await;
    assert_eq!(ids(&third), [4]);

    let all: Vec<SourceRecord> = first.into_iter().chain(second).chain(third).collect();
    let mut resumed = JdbcSourceTask::start(&cfg, &offsets_after(&all)).await.expect("restart");
    exec(&url, &["INSERT INTO users (name) VALUES ('erin')"]).await;
    assert_eq!(ids(&poll_n(&mut resumed, 1).await), [5], "a new task starts after the committed offset");
}

#[tokio::test]
async fn sqlite_timestamp_incrementing_sees_updates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    exec(
        &url,
        &[
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER, updated_at DATETIME NOT NULL)",
            "INSERT INTO orders VALUES (1, 10, '2024-01-01 00:00:01.250'), (2, 20, '2024-01-01 00:00:01.250'), \
         (3, 30, '2024-01-01T00:00:02Z')",
        ],
    )
    .await;
    let cfg = source(
        &url,
        &[
            ("mode", "timestamp+incrementing"),
            ("incrementing.column.name", "id"),
            ("timestamp.column.name", "updated_at"),
            ("tables", "orders"),
        ],
    );
    let mut task = JdbcSourceTask::start(&cfg, &Offsets::new()).await.expect("start");
    let first = poll_n(&mut task, 3).await;
    assert_eq!(ids(&first), [1, 2, 3]);
    assert_eq!(field(&first[0], "updated_at"), &Value::Int(1_704_067_201_250));
    assert_eq!(
        first[0].value_schema.as_ref().and_then(|s| s.field("updated_at")).map(|f| &f.schema),
        Some(&Schema::timestamp())
    );
    assert_eq!(
        first[1].offset.clone().map(serde_json::Value::Object),
        Some(serde_json::json!({"incrementing": 2, "timestamp": 1_704_067_201_250i64, "timestamp_nanos": 250_000_000}))
    );

    exec(&url, &["UPDATE orders SET amount = 11, updated_at = '2024-01-02 00:00:00' WHERE id = 1"]).await;
    let updated = poll_n(&mut task, 1).await;
    assert_eq!(ids(&updated), [1]);
    assert_eq!(field(&updated[0], "amount"), &Value::Int(11));

    let mut resumed = JdbcSourceTask::start(&cfg, &offsets_after(&[first, updated].concat())).await.expect("restart");
    exec(&url, &["INSERT INTO orders VALUES (4, 40, '2024-01-03 00:00:00')"]).await;
    assert_eq!(ids(&poll_n(&mut resumed, 1).await), [4]);
    assert!(resumed.poll().await.expect("poll").is_empty());
}

#[tokio::test]
async fn sqlite_timestamp_mode_keeps_peers_of_a_full_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    exec(&url, &[
        "CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP)",
        "INSERT INTO events VALUES (1, '2024-01-01 00:00:00'), (2, '2024-01-01 00:00:05'), (3, '2024-01-01 00:00:05'), \
         (4, '2024-01-01 00:00:05'), (5, 1704067300000)",
    ])
    .await;
    let cfg = source(
        &url,
        &[("mode", "timestamp"), ("timestamp.column.name", "at"), ("tables", "events"), ("batch.max.rows", "2")],
    );
    let mut task = JdbcSourceTask::start(&cfg, &Offsets::new()).await.expect("start");
    let mut got = ids(&poll_n(&mut task, 5).await);
    got.sort();
    assert_eq!(got, [1, 2, 3, 4, 5], "rows sharing a timestamp across a batch boundary are not lost");
    exec(&url, &["INSERT INTO events VALUES (6, '2024-01-02 00:00:00')"]).await;
    assert_eq!(ids(&poll_n(&mut task, 1).await), [6]);
}

#[tokio::test]
async fn sqlite_bulk_and_query_modes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    exec(
        &url,
        &[
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)",
            "CREATE TABLE tags (item INTEGER, tag TEXT)",
            "INSERT INTO items VALUES (1, 'a'), (2, 'b')",
            "INSERT INTO tags VALUES (1, 'x'), (2, 'y')",
        ],
    )
    .await;
    let mut bulk = JdbcSourceTask::start(&source(&url, &[("mode", "bulk"), ("tables", "items")]), &Offsets::new())
        .await
        .expect("bulk");
    let once = poll_n(&mut bulk, 2).await;
    assert_eq!(ids(&once), [1, 2]);
    assert_eq!(serde_json::Value::Object(once[0].partition.clone()), serde_json::json!({"table": "items"}));
    assert_eq!(once[0].offset, None);
    assert_eq!(ids(&poll_n(&mut bulk, 2).await), [1, 2], "bulk re-reads the whole table");

    let query = "SELECT i.id, i.name, t.tag FROM items i JOIN tags t ON t.item = i.id";
    let cfg = source(&url, &[("mode", "incrementing"), ("incrementing.column.name", "id"), ("query", query)]);
    let mut task = JdbcSourceTask::start(&cfg, &Offsets::new()).await.expect("query");
    let rows = poll_n(&mut task, 2).await;
    assert_eq!(ids(&rows), [1, 2]);
    assert_eq!(rows[0].topic, "db-");
    assert_eq!(serde_json::Value::Object(rows[0].partition.clone()), serde_json::json!({"query": "query"}));
    assert_eq!(rows[0].value_schema.as_ref().and_then(|s| s.name.clone()), None);
    assert_eq!(field(&rows[1], "tag"), &Value::String("y".into()));
    exec(&url, &["INSERT INTO items VALUES (3, 'c')", "INSERT INTO tags VALUES (3, 'z')"]).await;
    assert_eq!(ids(&poll_n(&mut task, 1).await), [3]);
}

#[tokio::test]
async fn sqlite_tables_split_into_task_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    exec(
        &url,
        &[
            "CREATE TABLE a (x INT)",
            "CREATE TABLE b (x INT)",
            "CREATE TABLE c (x INT)",
            "CREATE TABLE d (x INT)",
            "CREATE TABLE e (x INT)",
        ],
    )
    .await;
    let tables = |configs: Vec<Config>| configs.iter().map(|c| c["tables"].clone()).collect::<Vec<_>>();
    let cfg = source(&url, &[("mode", "bulk")]);
    assert_eq!(tables(source_task_configs(&cfg, 2).await.expect("split")), ["a,b,c", "d,e"]);
    assert_eq!(tables(source_task_configs(&cfg, 9).await.expect("split")), ["a", "b", "c", "d", "e"]);
    let black = source(&url, &[("mode", "bulk"), ("table.blacklist", "b,d")]);
    assert_eq!(tables(source_task_configs(&black, 1).await.expect("split")), ["a,c,e"]);
    let white = source(&url, &[("mode", "bulk"), ("table.whitelist", "e,zz")]);
    assert_eq!(tables(source_task_configs(&white, 3).await.expect("split")), ["e"]);
    let none = source(&url, &[("mode", "bulk"), ("table.whitelist", "zz")]);
    assert_eq!(tables(source_task_configs(&none, 3).await.expect("split")), [""]);
    let query = source(&url, &[("mode", "bulk"), ("query", "SELECT 1")]);
    assert_eq!(tables(source_task_configs(&query, 3).await.expect("split")), [""]);
}

fn users_schema() -> Schema {
    Schema::structure([
        ("id".to_string(), Schema::new(Type::Int64)),
        ("name".to_string(), Schema::new(Type::String).optional()),
        ("paid".to_string(), Schema { optional: true, ..Schema::decimal(2) }),
        ("seen".to_string(), Schema::timestamp().optional()),
    ])
    .named("users")
}

fn user(id: i64, name: &str) -> Value {
    Value::Struct(vec![
        ("id".into(), Value::Int(id)),
        ("name".into(), Value::String(name.into())),
        ("paid".into(), Value::Bytes(vec![0x30, 0x39])),
        ("seen".into(), Value::Int(1_704_067_201_250)),
    ])
}

fn record(key: Option<(Schema, Value)>, value: Option<(Option<Schema>, Value)>, offset: i64) -> ConnectRecord {
    let (key_schema, key) = key.map_or((None, Value::Null), |(s, v)| (Some(s), v));
    let (value_schema, value) = value.unwrap_or((None, Value::Null));
    ConnectRecord {
        topic: "users".into(),
        partition: Some(0),
        offset: Some(offset),
        timestamp: Some(0),
        key_schema,
        key,
        value_schema,
        value,
    }
}

fn sink(url: &str, extra: &[(&str, &str)]) -> Config {
    let mut c = config(&[("connection.url", url), ("auto.create", "true")]);
    c.extend(config(extra));
    c
}

fn texts(result: &ResultSet) -> Vec<String> {
    result.rows.iter().map(|r| r.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(" ")).collect()
}

#[tokio::test]
async fn sqlite_sink_insert_and_upsert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let mut insert = JdbcSinkTask::start(&sink(&url, &[("table.name.format", "kafka_${topic}")])).await.expect("start");
    insert.put(vec![record(None, Some((Some(users_schema()), user(1, "alice"))), 0)]).await.expect("put");
    let rows = select(&url, "SELECT id, name, paid, seen FROM kafka_users").await;
    assert_eq!(texts(&rows), [r#"Int(1) String("alice") Float(123.45) Int(1704067201250000)"#]);
    let create = select(&url, "SELECT sql FROM sqlite_master WHERE name = 'kafka_users'").await;
    assert_eq!(
        create.rows[0][0],
        Value::String(
            "CREATE TABLE `kafka_users` (`id` INTEGER NOT NULL, `name` TEXT, `paid` NUMERIC, `seen` DATETIME)".into()
        )
    );

    let cfg = sink(&url, &[("insert.mode", "upsert"), ("pk.mode", "record_key"), ("pk.fields", "id")]);
    let mut upsert = JdbcSinkTask::start(&cfg).await.expect("start");
    let key = |id| Some((Schema::new(Type::Int64), Value::Int(id)));
    let name_schema = Schema::structure([("name".to_string(), Schema::new(Type::String).optional())]);
    let value = |name: &str| {
        Some((Some(name_schema.clone()), Value::Struct(vec![("name".into(), Value::String(name.into()))])))
    };
    let batch = vec![record(key(1), value("a"), 0), record(key(2), value("b"), 1), record(key(1), value("a2"), 2)];
    upsert.put(batch.clone()).await.expect("put");
    upsert.put(batch).await.expect("redelivered put");
    let rows = select(&url, "SELECT id, name FROM users ORDER BY id").await;
    assert_eq!(texts(&rows), [r#"Int(1) String("a2")"#, r#"Int(2) String("b")"#]);
}

#[tokio::test]
async fn sqlite_sink_record_value_delete_and_schemaless() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let cfg = sink(&url, &[("insert.mode", "upsert"), ("pk.mode", "record_value"), ("pk.fields", "id")]);
    let mut task = JdbcSinkTask::start(&cfg).await.expect("start");
    task.put(vec![
        record(None, Some((Some(users_schema()), user(7, "x"))), 0),
        record(None, Some((Some(users_schema()), user(7, "y"))), 1),
    ])
    .await
    .expect("put");
    let rows = select(&url, "SELECT id, name FROM users").await;
    assert_eq!(texts(&rows), [r#"Int(7) String("y")"#]);

    let cfg = sink(
        &url,
        &[
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key"),
            ("delete.enabled", "true"),
            ("table.name.format", "plain"),
        ],
    );
    let mut task = JdbcSinkTask::start(&cfg).await.expect("start");
    let key_schema = Schema::structure([("k".to_string(), Schema::new(Type::String))]);
    let key = |k: &str| Some((key_schema.clone(), Value::Struct(vec![("k".into(), Value::String(k.into()))])));
    let json = |n: i64| {
        Some((
            None,
            Value::Map(vec![
                (Value::String("n".into()), Value::Int(n)),
                (Value::String("tags".into()), Value::Array(vec![Value::String("t".into())])),
            ]),
        ))
    };
    task.put(vec![record(key("a"), json(1), 0), record(key("b"), json(2), 1), record(key("a"), None, 2)])
        .await
        .expect("put");
    let rows = select(&url, "SELECT k, n, tags FROM plain").await;
    assert_eq!(texts(&rows), [r#"String("b") Int(2) String("[\"t\"]")"#]);
}

#[tokio::test]
async fn sqlite_sink_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let put = |cfg: Config, r: ConnectRecord| async move {
        let mut task = JdbcSinkTask::start(&cfg).await.expect("start");
        format!("{:#}", task.put(vec![r]).await.expect_err("fails"))
    };
    let value = Some((Some(users_schema()), user(1, "a")));
    let e = put(
        sink(&url, &[("pk.mode", "record_key")]),
        record(Some((Schema::new(Type::Int64), Value::Int(1))), value.clone(), 0),
    )
    .await;
    assert!(
        e.contains("Need exactly one PK column defined since the key schema for records is a primitive type"),
        "{e}"
    );
    let e = put(sink(&url, &[("pk.mode", "record_key"), ("pk.fields", "id")]), record(None, value.clone(), 0)).await;
    assert!(e.contains("PK mode for table 'users' is RECORD_KEY, but record key schema is missing"), "{e}");
    let e =
        put(sink(&url, &[("pk.mode", "record_value"), ("pk.fields", "nope")]), record(None, value.clone(), 0)).await;
    assert!(e.contains("but record value schema does not contain field: nope"), "{e}");
    let e = put(sink(&url, &[("auto.create", "false")]), record(None, value.clone(), 0)).await;
    assert!(e.contains("Table users is missing and auto-creation is disabled"), "{e}");
    let e = put(sink(&url, &[]), record(None, None, 0)).await;
    assert!(e.contains("configured with 'delete.enabled=false'"), "{e}");
    exec(&url, &["CREATE TABLE narrow (id INTEGER)"]).await;
    let e = put(sink(&url, &[("table.name.format", "narrow")]), record(None, value, 0)).await;
    assert!(e.contains("Table narrow is missing fields (name, paid, seen) and auto-evolution is disabled"), "{e}");
}

/// Upsert throughput into SQLite, the way a sink task sees it: puts of 3,000 records.
#[tokio::test]
async fn sqlite_sink_upsert_throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let cfg = sink(&url, &[("insert.mode", "upsert"), ("pk.mode", "record_value"), ("pk.fields", "id")]);
    let mut task = JdbcSinkTask::start(&cfg).await.expect("start");
    let (puts, per_put) = (10, 3000);
    let batches: Vec<Vec<ConnectRecord>> = (0..puts)
        .map(|p| {
            (0..per_put)
                .map(|i| record(None, Some((Some(users_schema()), user((p * per_put + i) % 20_000, "name"))), i))
                .collect()
        })
        .collect();
    let started = Instant::now();
    for batch in batches {
        task.put(batch).await.expect("put");
    }
    let rate = (puts * per_put) as f64 / started.elapsed().as_secs_f64();
    eprintln!("sqlite upsert: {rate:.0} rows/s");
    // The target is 20,000 rows/s (measured near 58,000 in a debug build); the floor here only
    // catches a fall back to row-at-a-time statements without failing on a busy machine.
    assert!(rate > 5_000.0, "{rate:.0} rows/s");
    let count = select(&url, "SELECT count(*) FROM users").await;
    assert_eq!(count.rows[0][0], Value::Int(20_000));
}

fn errors_of(errors: &ConfigErrors) -> String {
    format!("{errors:?}")
}

#[tokio::test]
async fn validation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    exec(&url, &["CREATE TABLE t (id INTEGER)"]).await;
    let good = source(&url, &[("mode", "incrementing"), ("incrementing.column.name", "id")]);
    assert!(validate_source(&good).await.is_empty(), "{:?}", validate_source(&good).await);
    let check = |cfg: Config, key: &'static str, text: &'static str| async move {
        let errors = validate_source(&cfg).await;
        assert!(
            errors.get(key).is_some_and(|e| e.iter().any(|m| m.contains(text))),
            "{key}: {text} in {}",
            errors_of(&errors)
        );
    };
    check(
        config(&[("mode", "bulk"), ("topic.prefix", "p")]),
        "connection.url",
        "Missing required configuration \"connection.url\"",
    )
    .await;
    check(
        source("jdbc:mysql://h/db", &[("mode", "bulk")]),
        "connection.url",
        "jdbc:sqlite:<path> or jdbc:postgresql://",
    )
    .await;
    check(source("jdbc:postgresql://127.0.0.1:1/db", &[("mode", "bulk")]), "connection.url", "Could not connect").await;
    let missing = format!("jdbc:sqlite:{}", dir.path().join("absent.db").display());
    check(source(&missing, &[("mode", "bulk")]), "connection.url", "Could not connect").await;
    check(source(&url, &[]), "mode", "Query mode must be specified").await;
    check(source(&url, &[("mode", "sometimes")]), "mode", "Invalid value sometimes for configuration mode").await;
    check(source(&url, &[("mode", "incrementing")]), "incrementing.column.name", "incrementing.column.name").await;
    check(source(&url, &[("mode", "timestamp")]), "timestamp.column.name", "timestamp.column.name").await;
    check(
        source(&url, &[("mode", "bulk"), ("query", "SELECT 1"), ("table.whitelist", "t")]),
        "query",
        "query may not be combined",
    )
    .await;
    check(
        source(&url, &[("mode", "bulk"), ("table.whitelist", "t"), ("table.blacklist", "u")]),
        "table.whitelist",
        "are exclusive",
    )
    .await;
    check(
        config(&[("connection.url", &url), ("mode", "bulk")]),
        "topic.prefix",
        "Missing required configuration \"topic.prefix\"",
    )
    .await;

    let good = config(&[("connection.url", &format!("jdbc:sqlite:{}", dir.path().join("new.db").display()))]);
    assert!(validate_sink(&good).await.is_empty(), "{:?}", validate_sink(&good).await);
    assert!(!dir.path().join("new.db").exists(), "checking does not create the database");
    let check = |extra: &'static [(&'static str, &'static str)], key: &'static str, text: &'static str| {
        let mut cfg = config(&[("connection.url", &url)]);
        cfg.extend(config(extra));
        async move {
            let errors = validate_sink(&cfg).await;
            assert!(
                errors.get(key).is_some_and(|e| e.iter().any(|m| m.contains(text))),
                "{key}: {text} in {}",
                errors_of(&errors)
            );
        }
    };
    check(
        &[("insert.mode", "merge")],
        "insert.mode",
        "Invalid value merge for configuration insert.mode: Invalid enumerator",
    )
    .await;
    check(&[("pk.mode", "rowid")], "pk.mode", "Invalid enumerator").await;
    check(
        &[("delete.enabled", "true"), ("pk.mode", "record_value")],
        "delete.enabled",
        "Primary key mode must be 'record_key' when delete support is enabled",
    )
    .await;
    check(&[("pk.mode", "kafka"), ("pk.fields", "a,b")], "pk.fields", "PK mode for table").await;
    let errors = validate_sink(&config(&[("connection.url", "jdbc:sqlite:/nonexistent-dir/x.db")])).await;
    assert!(errors.contains_key("connection.url"), "{errors:?}");
}

// PostgreSQL.

fn postgres_url() -> Option<String> {
    match std::env::var("WARREN_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but WARREN_TEST_POSTGRES_URL is not set (start one with .ci/postgres)")
        }
        _ => {
            eprintln!("skipping: WARREN_TEST_POSTGRES_URL is not set (start one with .ci/postgres)");
            None
        }
    }
}

/// A schema of its own for one test.
async fn pg_schema(url: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("w{}_{}_{}", std::process::id(), nanos, NEXT.fetch_add(1, Ordering::Relaxed));
    exec(url, &[&format!("CREATE SCHEMA {name}")]).await;
    name
}

#[tokio::test]
async fn postgres_incrementing_types_and_resume() {
    let Some(url) = postgres_url() else { return };
    let s = pg_schema(&url).await;
    exec(&url, &[
        &format!(
            "CREATE TABLE {s}.items (id SERIAL PRIMARY KEY, name TEXT NOT NULL, small INT2, amount NUMERIC(10,2), \
             free NUMERIC, at TIMESTAMPTZ, day DATE, clock TIME, ok BOOLEAN, raw BYTEA, doc JSONB, gap INTERVAL, \
             ratio REAL, u UUID)"
        ),
        &format!(
            "INSERT INTO {s}.items (name, small, amount, free, at, day, clock, ok, raw, doc, gap, ratio, u) VALUES \
             ('a', 7, 123.45, -0.5, '2024-01-01 00:00:01.25+00', '2024-01-02', '01:02:03.004', true, '\\x0102', \
             '{{\"k\": 1}}', '1 day', 0.5, '123e4567-e89b-12d3-a456-426614174000'), ('b', NULL, -1, 12, NULL, NULL, NULL, \
             NULL, NULL, NULL, NULL, NULL, NULL)"
        ),
    ])
    .await;
    let table = format!("{s}.items");
    let cfg = source(&url, &[("mode", "incrementing"), ("incrementing.column.name", "id"), ("tables", &table)]);
    let mut task = JdbcSourceTask::start(&cfg, &Offsets::new()).await.expect("start");
    let rows = poll_n(&mut task, 2).await;
    assert_eq!(ids(&rows), [1, 2]);
    let r = &rows[0];
    assert_eq!(serde_json::Value::Object(r.partition.clone()), serde_json::json!({"protocol": "1", "table": table}));
    assert_eq!(r.topic, "db-items");
    let schema = r.value_schema.as_ref().expect("schema");
    assert_eq!(schema.field("id").expect("id").schema, Schema::new(Type::Int32));
    assert_eq!(schema.field("amount").expect("amount").schema, Schema { optional: true, ..Schema::decimal(2) });
    assert_eq!(schema.field("free").expect("free").schema, Schema { optional: true, ..Schema::decimal(1) });
    assert_eq!(field(r, "small"), &Value::Int(7));
    assert_eq!(field(r, "amount"), &Value::Bytes(vec![0x30, 0x39]));
    assert_eq!(field(r, "free"), &Value::Bytes(vec![0xfb]));
    assert_eq!(field(&rows[1], "free"), &Value::Bytes(vec![0x78]));
    assert_eq!(field(&rows[1], "amount"), &Value::Bytes(vec![0x9c]), "-1.00 is -100 unscaled");
    assert_eq!(field(r, "at"), &Value::Int(1_704_067_201_250));
    assert_eq!(field(r, "day"), &Value::Int(19_724));
    assert_eq!(field(r, "clock"), &Value::Int(3_723_004));
    assert_eq!(field(r, "ok"), &Value::Boolean(true));
    assert_eq!(field(r, "raw"), &Value::Bytes(vec![1, 2]));
    assert_eq!(field(r, "doc"), &Value::String("{\"k\": 1}".into()));
    assert_eq!(field(r, "gap"), &Value::String("1 day".into()));
    assert_eq!(field(r, "ratio"), &Value::Float(0.5));
    assert_eq!(field(r, "u"), &Value::String("123e4567-e89b-12d3-a456-426614174000".into()));

    let mut resumed = JdbcSourceTask::start(&cfg, &offsets_after(&rows)).await.expect("restart");
    exec(&url, &[&format!("INSERT INTO {s}.items (name) VALUES ('c')")]).await;
    assert_eq!(ids(&poll_n(&mut resumed, 1).await), [3]);
    exec(&url, &[&format!("DROP SCHEMA {s} CASCADE")]).await;
}

#[tokio::test]
async fn postgres_timestamp_incrementing_sees_updates() {
    let Some(url) = postgres_url() else { return };
    let s = pg_schema(&url).await;
    exec(&url, &[
        &format!("CREATE TABLE {s}.orders (id BIGINT PRIMARY KEY, amount INT, updated_at TIMESTAMP NOT NULL)"),
        &format!("INSERT INTO {s}.orders VALUES (1, 10, '2024-01-01 00:00:01.123456'), (2, 20, '2024-01-01 00:00:01.123456')"),
    ])
    .await;
    let table = format!("{s}.orders");
    let cfg = source(
        &url,
        &[
            ("mode", "timestamp+incrementing"),
            ("incrementing.column.name", "id"),
            ("timestamp.column.name", "updated_at"),
            ("tables", &table),
        ],
    );
    let mut task = JdbcSourceTask::start(&cfg, &Offsets::new()).await.expect("start");
    let first = poll_n(&mut task, 2).await;
    assert_eq!(ids(&first), [1, 2]);
    assert_eq!(
        first[1].offset.clone().map(serde_json::Value::Object),
        Some(serde_json::json!({"incrementing": 2, "timestamp": 1_704_067_201_123i64, "timestamp_nanos": 123_456_000}))
    );
    exec(&url, &[&format!("UPDATE {s}.orders SET amount = 11, updated_at = '2024-01-02 00:00:00' WHERE id = 1")]).await;
    let updated = poll_n(&mut task, 1).await;
    assert_eq!(ids(&updated), [1]);
    assert_eq!(field(&updated[0], "amount"), &Value::Int(11));

    // Resuming from microsecond offsets neither repeats nor skips rows at the same instant.
    let mut resumed = JdbcSourceTask::start(&cfg, &offsets_after(&first)).await.expect("restart");
    assert_eq!(ids(&poll_n(&mut resumed, 1).await), [1]);
    exec(&url, &[&format!("INSERT INTO {s}.orders VALUES (3, 30, '2024-01-02 00:00:00')")]).await;
    assert_eq!(ids(&poll_n(&mut resumed, 1).await), [3]);
    exec(&url, &[&format!("DROP SCHEMA {s} CASCADE")]).await;
}

#[tokio::test]
async fn postgres_sink_upsert_auto_create() {
    let Some(url) = postgres_url() else { return };
    let s = pg_schema(&url).await;
    let format = format!("{s}.${{topic}}");
    let cfg = sink(
        &url,
        &[("insert.mode", "upsert"), ("pk.mode", "record_value"), ("pk.fields", "id"), ("table.name.format", &format)],
    );
    let mut task = JdbcSinkTask::start(&cfg).await.expect("start");
    let batch = vec![
        record(None, Some((Some(users_schema()), user(1, "a"))), 0),
        record(None, Some((Some(users_schema()), user(2, "b"))), 1),
        record(None, Some((Some(users_schema()), user(1, "a2"))), 2),
    ];
    task.put(batch.clone()).await.expect("put");
    task.put(batch).await.expect("redelivered put");
    let rows = select(&url, &format!("SELECT id, name, paid, seen FROM {s}.users ORDER BY id")).await;
    assert_eq!(
        texts(&rows),
        [
            r#"Int(1) String("a2") Bytes([48, 57]) Int(1704067201250000)"#,
            r#"Int(2) String("b") Bytes([48, 57]) Int(1704067201250000)"#
        ]
    );
    let types = select(
        &url,
        &format!("SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns WHERE table_schema = '{s}' ORDER BY ordinal_position"),
    )
    .await;
    assert_eq!(
        texts(&types),
        [
            r#"String("id") String("bigint") String("NO")"#,
            r#"String("name") String("text") String("YES")"#,
            r#"String("paid") String("numeric") String("YES")"#,
            r#"String("seen") String("timestamp without time zone") String("YES")"#
        ]
    );
    exec(&url, &[&format!("DROP SCHEMA {s} CASCADE")]).await;
}
