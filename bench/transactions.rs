//! Transactional produce against idempotent produce, through librdkafka, on a warren child
//! process (3 brokers, RF 3, acks=all): 1 KiB records, 1,000 per transaction. The issue's
//! target: transactions reach at least 60 % of idempotent throughput. Runs alternate, three of
//! each; prints each run and the medians. The producer waits for its deliveries by polling each
//! millisecond before it commits: the rdkafka crate's own flush (which `commit_transaction` calls)
//! polls in 100 ms steps, which would cap any broker at ten transactions a second.
//! Build warren first: `cargo build --release -p server`, then
//! `cargo run --release -p warren-bench --bin transactions`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

/// Counts deliveries, and failed ones.
#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
}

struct Ctx(Arc<Counts>);
impl ClientContext for Ctx {}
impl ProducerContext for Ctx {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.0.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

type Client = BaseProducer<Ctx>;

#[derive(Parser)]
struct Args {
    /// The warren binary to start.
    #[arg(long, default_value = "target/release/warren")]
    warren: PathBuf,
    /// Records per run.
    #[arg(long, default_value_t = 200_000)]
    records: u64,
    /// Records per transaction.
    #[arg(long, default_value_t = 1_000)]
    per_transaction: u64,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
}

const T: Duration = Duration::from_secs(60);

fn producer(bootstrap: &str, transactional_id: Option<&str>, counts: &Arc<Counts>) -> anyhow::Result<Client> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151");
    if let Some(id) = transactional_id {
        cfg.set("transactional.id", id);
    }
    Ok(cfg.create_with_context(Ctx(Arc::clone(counts)))?)
}

fn send_all(producer: &Client, topic: &str, payload: &[u8], from: u64, to: u64) -> anyhow::Result<()> {
    for i in from..to {
        let key = (i % 1024).to_be_bytes();
        let mut record = BaseRecord::to(topic).payload(payload).key(&key[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
        if i % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    Ok(())
}

/// Polls until `expected` records are delivered (or one fails).
fn await_deliveries(producer: &Client, counts: &Counts, expected: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + T;
    while counts.ok.load(Ordering::Relaxed) < expected {
        anyhow::ensure!(counts.failed.load(Ordering::Relaxed) == 0, "a delivery failed");
        anyhow::ensure!(Instant::now() < deadline, "deliveries stalled");
        producer.poll(Duration::from_millis(1));
    }
    Ok(())
}

/// Records per second of one run.
fn run(bootstrap: &str, topic: &str, args: &Args, transactional: Option<&str>) -> anyhow::Result<f64> {
    let counts = Arc::new(Counts::default());
    let producer = producer(bootstrap, transactional, &counts)?;
    let payload = vec![b'x'; 1024];
    if transactional.is_some() {
        producer.init_transactions(T)?;
    }
    let start = Instant::now();
    if transactional.is_some() {
        let mut at = 0;
        while at < args.records {
            let end = (at + args.per_transaction).min(args.records);
            producer.begin_transaction()?;
            send_all(&producer, topic, &payload, at, end)?;
            await_deliveries(&producer, &counts, end)?;
            producer.commit_transaction(T)?;
            at = end;
        }
    } else {
        send_all(&producer, topic, &payload, 0, args.records)?;
        await_deliveries(&producer, &counts, args.records)?;
    }
    Ok(args.records as f64 / start.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("warren-bench-tx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = 39_292;
    let mut warren: Child = Command::new(&args.warren)
        .args([
            "serve",
            "--brokers",
            "3",
            "--kafka-listen",
            &format!("127.0.0.1:{port}"),
            "--http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", args.warren.display()))?;
    let bootstrap = format!("127.0.0.1:{port}");
    std::thread::sleep(Duration::from_millis(500));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &bootstrap).create()?;
    let (mut idempotent, mut transactional) = (Vec::new(), Vec::new());
    println!(
        "{} records of 1 KiB per run, {} per transaction, {} partitions, RF 3, acks=all",
        args.records, args.per_transaction, args.partitions
    );
    for round in 0..3 {
        for kind in ["idempotent", "transactional"] {
            let topic = format!("tx-bench-{kind}-{round}");
            let new = NewTopic::new(&topic, args.partitions, TopicReplication::Fixed(3));
            runtime.block_on(admin.create_topics(&[new], &AdminOptions::new()))?;
            let id = format!("bench-{round}");
            let rate = run(&bootstrap, &topic, &args, (kind == "transactional").then_some(id.as_str()))?;
            println!("round {round} {kind:<13} {rate:>9.0} records/s {:>6.1} MB/s", rate * 1024.0 / 1e6);
            if kind == "idempotent" {
                idempotent.push(rate)
            } else {
                transactional.push(rate)
            }
        }
    }
    let (i, t) = (median(idempotent), median(transactional));
    println!("median idempotent {i:.0} records/s, transactional {t:.0} records/s: {:.0} %", 100.0 * t / i);
    let _ = warren.kill();
    let _ = warren.wait();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
