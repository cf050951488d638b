//! The JDBC connectors end to end, through Kafka Connect's REST API only, against real
//! databases: SQLite files, and a real PostgreSQL server when `WARREN_TEST_POSTGRES_URL` names
//! one (`.ci/run` starts Debian's with `.ci/postgres`; under `CI=true` its absence fails the
//! test). A source in incrementing and in timestamp+incrementing mode picks up inserted and
//! updated rows; a sink in upsert mode leaves one row per key with the latest value, in
//! PostgreSQL, and in SQLite across a kill -9 in the middle of the stream.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, Row};
use warren_tests::{free_ports, Options, Warren, WarrenProcess};

use crate::connect::{call, create_topic, read_records, read_values, until};

const WAIT: Duration = Duration::from_secs(120);

/// The PostgreSQL to test against, as a JDBC URL and as sqlx's URL; None (skip) when none is
/// named, outside CI.
fn postgres() -> Option<(String, String)> {
    match std::env::var("WARREN_TEST_POSTGRES_URL") {
        Ok(jdbc) if !jdbc.is_empty() => {
            // jdbc:postgresql://host:port/db?user=U&password=P
            let rest = jdbc.strip_prefix("jdbc:postgresql://").expect("a jdbc:postgresql:// URL");
            let (hostdb, query) = rest.split_once('?').unwrap_or((rest, ""));
            let params: BTreeMap<&str, &str> = query.split('&').filter_map(|p| p.split_once('=')).collect();
            let user = params.get("user").copied().unwrap_or("postgres");
            let password = params.get("password").copied().unwrap_or("");
            Some((jdbc.clone(), format!("postgres://{user}:{password}@{hostdb}")))
        }
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but WARREN_TEST_POSTGRES_URL is not set: .ci/run starts PostgreSQL with .ci/postgres")
        }
        _ => {
            eprintln!(
                "skipping the PostgreSQL part: WARREN_TEST_POSTGRES_URL is not set (start one with .ci/postgres)"
            );
            None
        }
    }
}

/// A name no earlier run used (the PostgreSQL database outlives the tests).
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    format!("{prefix}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// The database a test writes to and reads back.
enum Db {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Db {
    async fn run(&mut self, sql: &str) {
        match self {
            Db::Sqlite(c) => c.execute(sql).await.map(|_| ()),
            Db::Postgres(c) => c.execute(sql).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Values of a topic's records, as JSON.
async fn topic_json(bootstrap: &str, topic: &str) -> Vec<Value> {
    let (b, t) = (bootstrap.to_string(), topic.to_string());
    let values = tokio::task::spawn_blocking(move || read_values(&b, &t)).await.expect("reader");
    values.into_iter().map(|v| serde_json::from_slice(&v.expect("a value")).expect("JSON")).collect()
}

/// Polls the topic until `pred` holds on its values; the last values either way.
async fn topic_until(bootstrap: &str, topic: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let values = topic_json(bootstrap, topic).await;
        if pred(&values) || Instant::now() > deadline {
            return values;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// (id, name) of each record's payload.
fn rows(values: &[Value]) -> Vec<(i64, String)> {
    values
        .iter()
        .map(|v| (v["payload"]["id"].as_i64().expect("id"), v["payload"]["name"].as_str().expect("name").to_string()))
        .collect()
}

/// Runs the source scenario on one database: `now` is its SQL for the current time.
async fn source_scenario(warren: &Warren, db: &mut Db, url: &str, table: &str, qualified: &str, now: &str) {
    let (id_type, ts_type) = match db {
        Db::Sqlite(_) => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TIMESTAMP"),
        Db::Postgres(_) => ("BIGSERIAL PRIMARY KEY", "TIMESTAMP(3)"),
    };
    db.run(&format!(
        "CREATE TABLE {qualified} (id {id_type}, name TEXT NOT NULL, balance DOUBLE PRECISION, updated_at {ts_type} NOT NULL)"
    ))
    .await;
    for name in ["ada", "bob", "cy"] {
        db.run(&format!("INSERT INTO {qualified} (name, balance, updated_at) VALUES ('{name}', 1.5, {now})")).await;
    }
    let whitelist = qualified.replace('"', "");
    let prefix = format!("{table}-");
    for (connector, mode) in [("inc", "incrementing"), ("tsinc", "timestamp+incrementing")] {
        let mut config = json!({
            "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
            "connection.url": url, "mode": mode, "incrementing.column.name": "id",
            "timestamp.column.name": "updated_at", "table.whitelist": whitelist,
            "topic.prefix": format!("{connector}-{prefix}"), "poll.interval.ms": "200",
        });
        if connector == "inc" {
            // Transforms as Kafka configures them: the row's id becomes the record key.
            for (k, v) in [
                ("transforms", "key,id"),
                ("transforms.key.type", "org.apache.kafka.connect.transforms.ValueToKey"),
                ("transforms.key.fields", "id"),
                ("transforms.id.type", "org.apache.kafka.connect.transforms.ExtractField$Key"),
                ("transforms.id.field", "id"),
            ] {
                config[k] = json!(v);
            }
        }
        let (status, body) = call(
            warren.connect,
            "POST",
            "/connectors",
            Some(json!({"name": format!("{connector}-{table}"), "config": config})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (inc_topic, ts_topic) = (format!("inc-{prefix}{table}"), format!("tsinc-{prefix}{table}"));
    let b = warren.bootstrap();
    let first = topic_until(&b, &inc_topic, |v| v.len() >= 3).await;
    assert_eq!(rows(&first), vec![(1, "ada".into()), (2, "bob".into()), (3, "cy".into())]);
    let schema = &first[0]["schema"];
    assert_eq!(schema["type"], "struct");
    assert_eq!(schema["name"], table, "the struct is named after the table");
    let fields: Vec<&str> =
        schema["fields"].as_array().expect("fields").iter().filter_map(|f| f["field"].as_str()).collect();
    assert_eq!(fields, ["id", "name", "balance", "updated_at"]);
    let updated = schema["fields"].as_array().expect("fields").iter().find(|f| f["field"] == "updated_at").expect("ts");
    assert_eq!(updated["name"], "org.apache.kafka.connect.data.Timestamp");
    let (b2, t2) = (b.clone(), inc_topic.clone());
    let records = tokio::task::spawn_blocking(move || read_records(&b2, &t2)).await.expect("reader");
    let keys: Vec<Value> = records.iter().map(|(k, _)| serde_json::from_slice(k).expect("JSON")).collect();
    assert_eq!(keys[0]["payload"], 1, "ValueToKey then ExtractField$Key: {keys:?}");
    assert_eq!(keys[2]["payload"], 3);
    assert!(matches!(keys[0]["schema"]["type"].as_str(), Some("int64" | "int32")), "{keys:?}");

    // Inserts reach both; an update only the timestamp+incrementing one.
    db.run(&format!("INSERT INTO {qualified} (name, balance, updated_at) VALUES ('dee', 2.5, {now})")).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    db.run(&format!("UPDATE {qualified} SET name = 'ada2', updated_at = {now} WHERE id = 1")).await;
    let inc = topic_until(&b, &inc_topic, |v| v.len() >= 4).await;
    assert_eq!(rows(&inc).last(), Some(&(4, "dee".to_string())));
    let ts = topic_until(&b, &ts_topic, |v| rows(v).contains(&(1, "ada2".to_string()))).await;
    let ts_rows = rows(&ts);
    assert!(ts_rows.contains(&(1, "ada2".to_string())), "the updated row: {ts_rows:?}");
    assert!(ts_rows.contains(&(4, "dee".to_string())), "{ts_rows:?}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(rows(&topic_json(&b, &inc_topic).await).len(), 4, "an update is no new row in incrementing mode");

    // The offsets as that connector stores them.
    let offsets = until(warren.connect, &format!("/connectors/inc-{table}/offsets"), |o| {
        o["offsets"][0]["offset"]["incrementing"] == 4
    })
    .await;
    assert_eq!(offsets["offsets"][0]["offset"], json!({"incrementing": 4}), "{offsets}");
    assert_eq!(offsets["offsets"][0]["partition"]["protocol"], "1");
    let ts_offsets = until(warren.connect, &format!("/connectors/tsinc-{table}/offsets"), |o| {
        o["offsets"][0]["offset"]["incrementing"] == 1
    })
    .await;
    let offset = &ts_offsets["offsets"][0]["offset"];
    assert!(offset["timestamp"].is_i64() && offset["timestamp_nanos"].is_i64(), "{ts_offsets}");
}

/// Runs the upsert sink scenario on one database, writing into `table` from a topic of keyed updates.
async fn sink_scenario(warren: &Warren, db: &mut Db, url: &str, table: &str) {
    let topic = format!("{table}-changes");
    create_topic(&warren.bootstrap(), &topic, 2, 1).await;
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", warren.bootstrap()).create().expect("producer");
    for version in 0..5 {
        for id in 0..10i64 {
            let value = account(id, version);
            let key = json!({"schema": {"type": "int64", "optional": false}, "payload": id}).to_string();
            producer
                .send(FutureRecord::to(&topic).key(&key).payload(&value), Duration::from_secs(30))
                .await
                .expect("produce");
        }
    }
    let config = json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "connection.url": url,
        "topics": topic, "insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id",
        "auto.create": "true", "table.name.format": table, "tasks.max": "2",
        // Ignored by SQLite; the PostgreSQL under test trusts loopback (.ci/postgres).
        "connection.password": "hunter2-secret",
    });
    let (status, body) =
        call(warren.connect, "POST", "/connectors", Some(json!({"name": format!("sink-{table}"), "config": config})))
            .await;
    assert_eq!(status, 201, "{body}");
    let expected: Vec<(i64, String)> = (0..10).map(|id| (id, format!("account {id} v4"))).collect();
    let sql = format!("SELECT id, name FROM {table} ORDER BY id");
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        if let Ok(rows) = tokio::time::timeout(Duration::from_secs(5), try_pairs(db, &sql)).await {
            got = rows;
            if got == expected {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got, expected, "one row per key with the latest value");

    // The connector's page masks the password.
    let (status, _, page) =
        warren_tests::http(warren.http, "GET", &format!("/connectors/sink-{table}"), None, &[]).await.expect("page");
    assert_eq!(status, 200);
    assert!(!page.contains("hunter2-secret"), "the page shows the password");
    assert!(page.contains("********"), "the page shows where the password is");
}

async fn try_pairs(db: &mut Db, sql: &str) -> Vec<(i64, String)> {
    match db {
        Db::Sqlite(c) => sqlx::query(sql).fetch_all(c).await.map(|r| r.iter().map(|r| (r.get(0), r.get(1))).collect()),
        Db::Postgres(c) => {
            sqlx::query(sql).fetch_all(c).await.map(|r| r.iter().map(|r| (r.get(0), r.get(1))).collect())
        }
    }
    .unwrap_or_default()
}

fn account(id: i64, version: i64) -> String {
    json!({
        "schema": {"type": "struct", "optional": false, "name": "account", "fields": [
            {"type": "int64", "optional": false, "field": "id"},
            {"type": "string", "optional": false, "field": "name"},
            {"type": "int64", "optional": false, "field": "version"}]},
        "payload": {"id": id, "name": format!("account {id} v{version}"), "version": version},
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_source_and_sink_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(&dir.path().join("data"), Options::brokers(1)).await.expect("start");

    let db_path = dir.path().join("source.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&db_path).create_if_missing(true);
    let mut sqlite = Db::Sqlite(sqlx::SqliteConnection::connect_with(&options).await.expect("sqlite"));
    let url = format!("jdbc:sqlite:{}", db_path.display());
    source_scenario(&warren, &mut sqlite, &url, "users", "users", "strftime('%Y-%m-%d %H:%M:%f', 'now')").await;
    sink_scenario(&warren, &mut sqlite, &url, "accounts").await;

    if let Some((jdbc, sqlx_url)) = postgres() {
        let mut pg = Db::Postgres(sqlx::PgConnection::connect(&sqlx_url).await.expect("postgres"));
        let schema = unique("w");
        pg.run(&format!("CREATE SCHEMA {schema}")).await;
        let table = unique("users");
        source_scenario(&warren, &mut pg, &jdbc, &table, &format!("{schema}.{table}"), "clock_timestamp()").await;
        let offsets = until(warren.connect, &format!("/connectors/inc-{table}/offsets"), |_| true).await;
        assert_eq!(offsets["offsets"][0]["partition"]["table"], format!("{schema}.{table}"), "{offsets}");
        let sink_table = unique("accounts");
        sink_scenario(&warren, &mut pg, &jdbc, &sink_table).await;
    }
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_upserts_stay_right_across_a_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let db_path = dir.path().join("sink.db");
    let port = free_ports(3);
    let warren = WarrenProcess::spawn(&data, 3, port, &[]).expect("spawn");
    create_topic(&warren.bootstrap(), "ledger", 3, 3).await;
    let config = json!({
        "connector.class": "JdbcSinkConnector", "connection.url": format!("jdbc:sqlite:{}", db_path.display()),
        "topics": "ledger", "key.converter": "org.apache.kafka.connect.storage.StringConverter", "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
        "auto.create": "true", "tasks.max": "2",
    });
    let (status, body) =
        call(warren.connect, "POST", "/connectors", Some(json!({"name": "ledger-sink", "config": config}))).await;
    assert_eq!(status, 201, "{body}");

    // Versions 0..VERSIONS of 20 keys, each key's versions in order (one key, one partition).
    const VERSIONS: i64 = 150;
    let bootstrap = warren.bootstrap();
    let producing = tokio::spawn(async move {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "120000")
            .create()
            .expect("producer");
        for version in 0..VERSIONS {
            for id in 0..20i64 {
                let value = account(id, version);
                let key = id.to_string();
                producer
                    .send(FutureRecord::to("ledger").key(&key).payload(&value), Duration::from_secs(120))
                    .await
                    .expect("produce");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&db_path).create_if_missing(true);
    let mut db = Db::Sqlite(sqlx::SqliteConnection::connect_with(&options).await.expect("sqlite"));
    let deadline = Instant::now() + WAIT;
    // Kill once the sink has upserted some of the stream.
    loop {
        let rows = try_pairs(&mut db, "SELECT id, name FROM ledger ORDER BY id").await;
        if rows.iter().any(|(_, name)| name.ends_with(" v20")) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    warren.kill9().expect("kill -9");
    let warren = WarrenProcess::spawn(&data, 3, port, &[]).expect("respawn");
    producing.await.expect("producer");
    let expected: Vec<(i64, String)> = (0..20).map(|id| (id, format!("account {id} v{}", VERSIONS - 1))).collect();
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        got = try_pairs(&mut db, "SELECT id, name FROM ledger ORDER BY id").await;
        if got == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got, expected, "one row per key, each the latest version");
    let status = until(warren.connect, "/connectors/ledger-sink/status", |s| {
        s["tasks"].as_array().is_some_and(|t| t.len() == 2)
    })
    .await;
    assert_eq!(status["connector"]["state"], "RUNNING", "restored after the kill: {status}");
    warren.terminate().expect("terminate");
}
