//! Produce and consume throughput through librdkafka against a warren child process on loopback.
//!
//! Runs the matrix: record size {100 B, 1 KiB} x {acks=1 with RF 1, acks=all with RF 3} x
//! {1, 6 partitions}; prints records/s, MB/s and the broker's resident memory (VmRSS, peak VmHWM).
//! Build warren first: `cargo build --release -p server`, then
//! `cargo run --release -p warren-bench --bin throughput`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

#[derive(Parser)]
struct Args {
    /// The warren binary to start.
    #[arg(long, default_value = "target/release/warren")]
    warren: PathBuf,
    /// Records per run for 100-byte records (1 KiB runs use a quarter).
    #[arg(long, default_value_t = 2_000_000)]
    records: u64,
    /// Only run scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

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

fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("warren-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = 39_192;
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

    println!(
        "scenario                          produce rec/s   MB/s   consume rec/s   MB/s   broker RSS MiB (peak)   broker CPU s (produce/consume)"
    );
    for size in [100usize, 1024] {
        for (acks, rf) in [("1", 1), ("all", 3)] {
            for partitions in [1, 6] {
                let name = format!("{size}B acks={acks} rf={rf} p={partitions}");
                if args.only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
                    continue;
                }
                let topic = format!("bench-{size}-{acks}-{partitions}");
                let new = NewTopic::new(&topic, partitions, TopicReplication::Fixed(rf));
                runtime.block_on(admin.create_topics(&[new], &AdminOptions::new()))?;
                let records = if size == 100 { args.records } else { args.records / 4 };
                let cpu0 = cpu_seconds(warren.id());
                let (p_rate, p_secs) = produce(&bootstrap, &topic, acks, size, records)?;
                let cpu1 = cpu_seconds(warren.id());
                let (c_rate, c_secs) = consume(&bootstrap, &topic, partitions, records)?;
                let cpu2 = cpu_seconds(warren.id());
                let (rss, hwm) = memory_kib(warren.id());
                let mb = |rate: f64| rate * size as f64 / 1e6;
                println!(
                    "{name:<33} {p_rate:>13.0} {:>6.1} {c_rate:>15.0} {:>6.1}   {:>6.1} ({:>5.1})   {:.2}/{:.2} of {p_secs:.2}/{c_secs:.2} wall   [{records} records]",
                    mb(p_rate),
                    mb(c_rate),
                    rss as f64 / 1024.0,
                    hwm as f64 / 1024.0,
                    cpu1 - cpu0,
                    cpu2 - cpu1,
                );
            }
        }
    }
    let _ = warren.kill();
    let _ = warren.wait();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn produce(bootstrap: &str, topic: &str, acks: &str, size: usize, records: u64) -> anyhow::Result<(f64, f64)> {
    let counts = Arc::new(Counts::default());
    let producer: BaseProducer<Ctx> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", acks)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151")
        .create_with_context(Ctx(Arc::clone(&counts)))?;
    let payload = vec![b'x'; size];
    let start = Instant::now();
    for i in 0..records {
        let key = (i % 1024).to_be_bytes();
        let mut record = BaseRecord::to(topic).payload(&payload[..]).key(&key[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
        if i % 10_000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let secs = start.elapsed().as_secs_f64();
    let failed = counts.failed.load(Ordering::Relaxed);
    anyhow::ensure!(failed == 0, "{failed} deliveries failed");
    anyhow::ensure!(counts.ok.load(Ordering::Relaxed) == records, "not every record was acknowledged");
    Ok((records as f64 / secs, secs))
}

fn consume(bootstrap: &str, topic: &str, partitions: i32, records: u64) -> anyhow::Result<(f64, f64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760")
        .set("queued.max.messages.kbytes", "1048576")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let start = Instant::now();
    let mut n = 0u64;
    while n < records {
        match consumer.poll(Duration::from_secs(10)) {
            Some(Ok(_)) => n += 1,
            Some(Err(e)) => anyhow::bail!("consume: {e}"),
            None => anyhow::bail!("consume stalled at {n} of {records}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((records as f64 / secs, secs))
}
