//! A stream job's end-to-end throughput: a tumbling count (10 s windows, emit updates) over
//! 1,000,000 records of 1,000 keys in one partition, on a warren child process (3 brokers,
//! RF 3; outputs and changelog written with acks=all). The issue's target: at least 300,000
//! records/s.
//!
//! The records are loaded first, with warren running no job; warren is then stopped and started
//! again with the job, and the clock runs from that start until the job's group has committed
//! the last offset, so it covers the job's setup, its reads, the windowing, the writes of the
//! results and the changelog, and the commits. Build warren first:
//! `cargo build --release -p server`, then `cargo run --release -p warren-bench --bin streams`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::TopicPartitionList;

#[derive(Parser)]
struct Args {
    /// The warren binary to start.
    #[arg(long, default_value = "target/release/warren")]
    warren: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    records: i64,
    #[arg(long, default_value_t = 1_000)]
    keys: i64,
    /// Processing guarantee of the job.
    #[arg(long, default_value = "at_least_once")]
    guarantee: String,
}

const PORT: u16 = 19392;
const HTTP: u16 = 19480;

fn spawn(warren: &Path, data: &Path, config: Option<&Path>) -> anyhow::Result<Child> {
    let mut cmd = Command::new(warren);
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(data)
        .arg("--kafka-listen")
        .arg(format!("127.0.0.1:{PORT}"))
        .arg("--http-listen")
        .arg(format!("127.0.0.1:{HTTP}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let child = cmd.spawn().with_context(|| format!("cannot start {}", warren.display()))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", HTTP)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "warren did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child)
}

fn stop(mut child: Child) -> anyhow::Result<()> {
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
    child.wait()?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let bootstrap = format!("127.0.0.1:{PORT}");

    let warren = spawn(&args.warren, &data, None)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &bootstrap).create()?;
    let new = [NewTopic::new("bench-in", 1, TopicReplication::Fixed(3))];
    for r in runtime.block_on(admin.create_topics(&new, &AdminOptions::new()))? {
        r.map_err(|(t, e)| anyhow::anyhow!("creating {t}: {e}"))?;
    }
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "2000000")
        .set("compression.type", "lz4")
        .create()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let t0 = now - args.records;
    let loading = Instant::now();
    for i in 0..args.records {
        let key = format!("user-{}", i % args.keys);
        let value = format!(r#"{{"kind":"click","n":{i}}}"#);
        let mut record = BaseRecord::to("bench-in").key(&key).payload(&value).timestamp(t0 + i);
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
    println!("loaded {} records in {:.1} s", args.records, loading.elapsed().as_secs_f64());
    stop(warren)?;

    let config = dir.path().join("warren.toml");
    std::fs::write(
        &config,
        format!(
            "[[streams]]\nname = \"bench\"\nsource = [\"bench-in\"]\n\
             window = {{ type = \"tumbling\", size = \"10s\", grace = \"0s\" }}\naggregate = \"count\"\n\
             sink = \"bench-out\"\nprocessing_guarantee = \"{}\"\n",
            args.guarantee
        ),
    )?;
    let started = Instant::now();
    let warren = spawn(&args.warren, &data, Some(&config))?;
    let up = started.elapsed();
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &bootstrap).set("group.id", "bench").create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("bench-in", 0);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .ok()
            .and_then(|l| l.elements().first().and_then(|e| e.offset().to_raw()))
            .unwrap_or(-1);
        if committed >= args.records {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the job did not finish within 10 minutes ({committed})");
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let out = consumer.fetch_watermarks("bench-out", 0, Duration::from_secs(10)).map(|w| w.1).unwrap_or(-1);
    println!(
        "{} records ({} keys, {}) in {:.2} s from warren's start ({:.2} s to listen): {:.0} records/s; sink end offset {out}",
        args.records,
        args.keys,
        args.guarantee,
        elapsed.as_secs_f64(),
        up.as_secs_f64(),
        args.records as f64 / elapsed.as_secs_f64()
    );
    stop(warren)?;
    Ok(())
}
