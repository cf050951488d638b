//! Kafka Connect's throughput, through its REST API on a warren child process (3 brokers,
//! RF 3): the file source moving 100-byte lines into a topic (the target: at least
//! 200,000 lines/s) and the JDBC sink upserting JSON records with schemas into SQLite (target:
//! at least 20,000 rows/s).
//!
//! File source: the input file is written first; the clock runs from the connector's creation
//! until its committed offset (`GET /connectors/{c}/offsets`) is the file's length, so every line
//! is in the topic, in committed transactions with its offset. SQLite sink: the records are
//! loaded first; the clock runs from the connector's creation until its group has committed the
//! topic's end, every row upserted in a committed SQLite transaction. Build warren first:
//! `cargo build --release -p server -p warren-bench`, then `./target/release/connect`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// The warren binary to start.
    #[arg(long, default_value = "target/release/warren")]
    warren: PathBuf,
    /// Lines for the file source (100 bytes each with the newline).
    #[arg(long, default_value_t = 2_000_000)]
    lines: usize,
    /// The file source's `batch.size`.
    #[arg(long, default_value_t = 2000)]
    batch_size: usize,
    /// Records for the SQLite sink.
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
    /// Distinct keys among them (each key upserted rows/keys times).
    #[arg(long, default_value_t = 50_000)]
    keys: usize,
}

const PORT: u16 = 19592;
const HTTP: u16 = 19680;
const CONNECT: u16 = 19683;

fn spawn(warren: &Path, data: &Path) -> anyhow::Result<Child> {
    let child = Command::new(warren)
        .arg("serve")
        .arg("--data-dir")
        .arg(data)
        .arg("--kafka-listen")
        .arg(format!("127.0.0.1:{PORT}"))
        .arg("--http-listen")
        .arg(format!("127.0.0.1:{HTTP}"))
        .arg("--connect-listen")
        .arg(format!("127.0.0.1:{CONNECT}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", warren.display()))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", CONNECT)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "warren did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child)
}

/// One HTTP/1.1 request to the Connect port: the status and the JSON body.
fn call(method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", CONNECT))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("no header end")?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no status")?;
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

fn create(name: &str, config: Value) -> anyhow::Result<()> {
    let (status, body) = call("POST", "/connectors", Some(&json!({"name": name, "config": config})))?;
    anyhow::ensure!(status == 201, "creating {name}: {status} {body}");
    Ok(())
}

/// Polls the connector's offsets until `done` holds on them (at most 10 minutes).
fn wait_offsets(name: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, offsets) = call("GET", &format!("/connectors/{name}/offsets"), None)?;
        if done(&offsets["offsets"][0]["offset"]) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{name} did not finish within 10 minutes: {offsets}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let warren = spawn(&args.warren, &dir.path().join("data"))?;
    let bootstrap = format!("127.0.0.1:{PORT}");
    let runtime = tokio::runtime::Runtime::new()?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &bootstrap).create()?;
    let new = [
        NewTopic::new("bench-lines", 1, TopicReplication::Fixed(3)),
        NewTopic::new("bench-rows", 1, TopicReplication::Fixed(3)),
    ];
    for r in runtime.block_on(admin.create_topics(&new, &AdminOptions::new()))? {
        r.map_err(|(t, e)| anyhow::anyhow!("creating {t}: {e}"))?;
    }

    // The file source.
    let input = dir.path().join("in.txt");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input)?);
    for i in 0..args.lines {
        writeln!(file, "line {i:010} {}", "x".repeat(83))?;
    }
    file.flush()?;
    drop(file);
    let size = std::fs::metadata(&input)?.len();
    anyhow::ensure!(size == 100 * args.lines as u64, "lines are not 100 bytes");
    let started = Instant::now();
    create(
        "bench-file",
        json!({"connector.class": "FileStreamSource", "file": input, "topic": "bench-lines",
               "batch.size": args.batch_size.to_string()}),
    )?;
    wait_offsets("bench-file", |o| o["position"].as_u64() == Some(size))?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "file source: {} lines of 100 B (batch.size {}) in {elapsed:.2} s = {:.0} lines/s",
        args.lines,
        args.batch_size,
        args.lines as f64 / elapsed
    );

    // The SQLite sink: records loaded first.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "2000000")
        .create()?;
    let schema = json!({"type": "struct", "optional": false, "name": "account", "fields": [
        {"type": "int64", "optional": false, "field": "id"},
        {"type": "string", "optional": true, "field": "name"},
        {"type": "double", "optional": true, "field": "balance"}]});
    for i in 0..args.rows {
        let id = i % args.keys;
        let value = json!({"schema": schema, "payload": {"id": id, "name": format!("account {id}"), "balance": i as f64 / 100.0}})
            .to_string();
        let key = id.to_string();
        let mut record = BaseRecord::to("bench-rows").key(&key).payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    producer.poll(Duration::from_millis(5));
                    record = r;
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let db = dir.path().join("sink.db");
    let started = Instant::now();
    create(
        "bench-sqlite",
        json!({"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
               "connection.url": format!("jdbc:sqlite:{}", db.display()), "topics": "bench-rows",
               "key.converter": "org.apache.kafka.connect.storage.StringConverter",
               "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id", "auto.create": "true"}),
    )?;
    let rows = args.rows as i64;
    wait_offsets("bench-sqlite", |o| o["kafka_offset"].as_i64() == Some(rows))?;
    let elapsed = started.elapsed().as_secs_f64();
    let count = runtime.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).connect().await?;
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM \"bench-rows\"").fetch_one(&mut conn).await
    })?;
    anyhow::ensure!(count == args.keys as i64, "the table holds {count} rows, not one per key");
    println!(
        "SQLite sink: {} upserts of {} keys in {elapsed:.2} s = {:.0} rows/s",
        args.rows,
        args.keys,
        args.rows as f64 / elapsed
    );
    Command::new("kill").arg("-TERM").arg(warren.id().to_string()).status()?;
    Ok(())
}
