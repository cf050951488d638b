//! A randomized replication fault drill. From one seed it runs a sequence of faults against a
//! 3-broker warren (a child process, so that the drill can kill -9 it) under steady acks=all load
//! from an idempotent rdkafka producer on an RF 3, `min.insync.replicas` 2 topic, and checks the
//! invariants after every step:
//!
//! - no acknowledged record is lost (each is read back at the offset it was acknowledged with),
//!   none is duplicated, each partition keeps the producer's order, and what was read once below
//!   the high watermark is still there, unchanged, in a full re-read at the end;
//! - no partition's high watermark ever goes backwards (sampled every 100 ms throughout, kill -9
//!   included);
//! - every partition has a leader whenever a member of its ISR is up;
//! - once every broker is up, every ISR is full again within `replica_lag_time_max` + 10 s;
//! - acks=all succeeds (a probe record to every partition) whenever every ISR is at
//!   `min.insync.replicas`.
//!
//! Faults: stop one broker, stop two (in sequence), stop the controller, stop the leader of a
//! given partition, a follower falling behind (its fetcher paused until it leaves the ISR), kill
//! -9 of the whole process with a restart on the same data dir (healthy, or while brokers are
//! down), and brokers started again in a random order. A failure prints the seed, the round and
//! the step, and the steps so far; the faults of a seed are the same on every run:
//!
//! ```sh
//! WARREN_DRILL_SEED=7 WARREN_DRILL_ROUNDS=200 cargo test --release -p warren-tests --test e2e drill::soak -- --ignored --nocapture
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use warren_tests::{free_ports, http, WarrenProcess};

const TOPIC: &str = "drill";
const PARTITIONS: i32 = 6;
const BROKERS: i32 = 3;
const MIN_ISR: usize = 2;
/// `replica_lag_time_max` of the drilled warren: short, so a paused follower leaves soon.
const LAG_MAX: Duration = Duration::from_secs(3);
/// Load records per second (in 10 ms ticks), over the partitions the round lets it write to.
const RATE: u64 = 400;
const ALL_PARTITIONS: u64 = (1 << PARTITIONS) - 1;
/// Probe records carry sequence numbers from here up, apart from the load's.
const PROBE_BASE: u64 = 1 << 48;

/// The seeds CI runs, and their rounds: a few minutes in all.
const CI_SEEDS: [u64; 3] = [1, 2, 3];
const CI_ROUNDS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_drill_ci_seeds() {
    for seed in CI_SEEDS {
        let summary = run(seed, CI_ROUNDS).await;
        println!("{summary}");
    }
}

/// The long soak, by hand: `WARREN_DRILL_SEED` (default: from the clock, printed) and
/// `WARREN_DRILL_ROUNDS` (default 200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a long soak: run by hand with --ignored"]
async fn soak() {
    let seed = std::env::var("WARREN_DRILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs())
    });
    let rounds = std::env::var("WARREN_DRILL_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    println!("drill soak: seed {seed}, {rounds} rounds");
    let summary = run(seed, rounds).await;
    println!("{summary}");
}

/// splitmix64: the drill's only source of choices, so a seed replays the same faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.below(high - low + 1))
    }

    fn pick(&mut self, items: &[i32]) -> i32 {
        items[self.below(items.len() as u64) as usize]
    }

    fn shuffle(&mut self, items: &mut [i32]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    StopOne,
    StopTwo,
    StopController,
    StopLeader,
    FollowerBehind,
    Kill9,
}

impl Fault {
    fn draw(rng: &mut Rng) -> Fault {
        // Weights: the stops that move leadership most often, the slow ones less.
        const TABLE: [(Fault, u64); 6] = [
            (Fault::StopOne, 2),
            (Fault::StopTwo, 3),
            (Fault::StopController, 1),
            (Fault::StopLeader, 2),
            (Fault::FollowerBehind, 1),
            (Fault::Kill9, 1),
        ];
        let mut n = rng.below(TABLE.iter().map(|(_, w)| w).sum());
        for (fault, weight) in TABLE {
            if n < weight {
                return fault;
            }
            n -= weight;
        }
        Fault::StopOne
    }
}

/// What the load producer and the probes have been told.
#[derive(Default)]
struct Ledger {
    /// Acknowledged since the drill last looked: (seq, partition, offset).
    acked: Vec<(u64, i32, i64)>,
    acked_total: u64,
    /// Deliveries that failed, with the error (the drill fails on the first).
    failed: Vec<(u64, String)>,
}

/// One partition of the topic as `GET /api/v1/topics/drill` shows it.
#[derive(Debug, Clone)]
struct PartitionView {
    leader: i32,
    /// ISR members that are up.
    isr: Vec<i32>,
    high_watermark: i64,
    /// Shown (through `Debug`) in failure messages.
    #[allow(dead_code)]
    log_end_offset: i64,
}

/// Everything read back so far, incrementally, and what the invariants need of it.
#[derive(Default)]
struct Log {
    /// partition -> offset -> seq
    records: BTreeMap<i32, BTreeMap<i64, u64>>,
    /// Next offset to read per partition.
    next: BTreeMap<i32, i64>,
    /// seq -> (partition, offset), to find duplicates.
    placed: HashMap<u64, (i32, i64)>,
    /// Last load seq per partition, to check order.
    last_load: BTreeMap<i32, u64>,
    /// Acknowledged records not yet read back.
    unverified: Vec<(u64, i32, i64)>,
}

impl Log {
    fn absorb(&mut self, partition: i32, offset: i64, seq: u64) -> Result<(), String> {
        if let Some(before) = self.records.entry(partition).or_default().insert(offset, seq) {
            if before != seq {
                return Err(format!("{TOPIC}/{partition} offset {offset} was seq {before}, now reads seq {seq}"));
            }
            return Ok(());
        }
        if let Some((p, o)) = self.placed.insert(seq, (partition, offset)) {
            return Err(format!(
                "seq {seq} is in the log twice: {TOPIC}/{p} offset {o} and {TOPIC}/{partition} offset {offset}"
            ));
        }
        if seq < PROBE_BASE {
            if let Some(last) = self.last_load.insert(partition, seq) {
                if last >= seq {
                    return Err(format!(
                        "{TOPIC}/{partition} out of order: seq {seq} at offset {offset} after seq {last}"
                    ));
                }
            }
        }
        let next = self.next.entry(partition).or_insert(0);
        *next = (*next).max(offset + 1);
        Ok(())
    }

    /// Checks every acknowledged record whose offset has been read; keeps the rest for later.
    fn verify_acked(&mut self) -> Result<(), String> {
        let mut pending = Vec::new();
        for (seq, partition, offset) in std::mem::take(&mut self.unverified) {
            if offset >= self.next.get(&partition).copied().unwrap_or(0) {
                pending.push((seq, partition, offset));
                continue;
            }
            match self.records.get(&partition).and_then(|r| r.get(&offset)) {
                Some(found) if *found == seq => {}
                Some(found) => {
                    return Err(format!(
                        "acknowledged seq {seq} at {TOPIC}/{partition} offset {offset} was lost: the log has seq {found} there"
                    ))
                }
                None => {
                    return Err(format!(
                        "acknowledged seq {seq} at {TOPIC}/{partition} offset {offset} was lost: nothing at that offset"
                    ))
                }
            }
        }
        self.unverified = pending;
        Ok(())
    }
}

/// The high watermarks seen so far and every time one went backwards.
#[derive(Default)]
struct Watermarks {
    /// Per partition, every reading: (when its answer arrived, high watermark).
    seen: BTreeMap<i32, Vec<(Instant, i64)>>,
    backwards: Vec<String>,
}

impl Watermarks {
    /// Readings of a request sent at `sent`. Requests overlap (the sampler and the checks), so a
    /// reading is compared only with those whose answer arrived before this request was sent:
    /// a high watermark read after another was seen must not be lower.
    fn observe(&mut self, views: &[PartitionView], when: &str, sent: Instant) {
        let arrived = Instant::now();
        for (p, view) in views.iter().enumerate() {
            if view.high_watermark < 0 {
                continue;
            }
            let seen = self.seen.entry(p as i32).or_default();
            let before = seen.iter().filter(|(at, _)| *at < sent).map(|(_, hw)| *hw).max();
            if let Some(highest) = before.filter(|h| view.high_watermark < *h) {
                self.backwards
                    .push(format!("{TOPIC}/{p}: high watermark {} after {highest} ({when})", view.high_watermark));
            }
            seen.push((arrived, view.high_watermark));
        }
    }
}

/// One drill: a warren, its load, and the checks.
struct Drill {
    seed: u64,
    rng: Rng,
    dir: tempfile::TempDir,
    kafka_port: u16,
    process: Option<WarrenProcess>,
    http: Arc<Mutex<SocketAddr>>,
    up: [bool; BROKERS as usize],
    ledger: Arc<Mutex<Ledger>>,
    pending: Arc<AtomicU64>,
    /// Bit p set: the load writes to partition p. Some rounds leave partitions idle, where a
    /// returning follower has nothing to copy and must still rejoin the ISR.
    active: Arc<AtomicU64>,
    watermarks: Arc<Mutex<Watermarks>>,
    reader: Arc<BaseConsumer>,
    probe: FutureProducer,
    probes: u64,
    log: Log,
    /// Round and step for failure messages, and the steps so far.
    round: usize,
    steps: Vec<String>,
}

fn env() -> Vec<(&'static str, String)> {
    vec![
        ("WARREN_CLUSTER__REPLICA_LAG_TIME_MAX", format!("{}s", LAG_MAX.as_secs())),
        ("WARREN_CLUSTER__AUTO_CREATE_TOPICS", "false".into()),
        // `WARREN_DRILL_LOG=info` (any RUST_LOG filter) shows the drilled warren's log in a replay.
        ("RUST_LOG", std::env::var("WARREN_DRILL_LOG").unwrap_or_else(|_| "warn".into())),
    ]
}

/// Starts warren on `dir/data`, its log appended to `dir/warren.log`.
fn spawn(dir: &std::path::Path, port: u16) -> WarrenProcess {
    let env = env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    WarrenProcess::spawn_logged(&dir.join("data"), BROKERS, port, &env, Some(&dir.join("warren.log")))
        .expect("start warren")
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap).set("topic.metadata.refresh.interval.ms", "1000");
    cfg
}

/// Runs `rounds` rounds from `seed` and returns a summary line; panics with the seed and step
/// on the first broken invariant.
async fn run(seed: u64, rounds: usize) -> String {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let kafka_port = free_ports(BROKERS as u16);
    let process = spawn(dir.path(), kafka_port);
    let http_addr = Arc::new(Mutex::new(process.http));
    let bootstrap = process.bootstrap();
    let body = format!(
        r#"{{"name":"{TOPIC}","partitions":{PARTITIONS},"replication_factor":3,"config":{{"min.insync.replicas":"{MIN_ISR}"}}}}"#
    );
    let (status, _, text) = http(process.http, "POST", "/api/v1/topics", Some(&body), &[]).await.expect("create");
    assert_eq!(status, 201, "create the topic: {text}");

    let producer: FutureProducer = client(&bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        // Long enough that no record times out while two brokers are down or warren restarts:
        // every record is eventually acknowledged or the drill has found a fault.
        .set("message.timeout.ms", "300000")
        .create()
        .expect("producer");
    let probe: FutureProducer = client(&bootstrap)
        .set("acks", "all")
        // Idempotent too: a retried probe must not land twice.
        .set("enable.idempotence", "true")
        .set("linger.ms", "0")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("probe producer");
    let reader: BaseConsumer = client(&bootstrap)
        .set("group.id", "warren-drill-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("reader");

    let mut drill = Drill {
        seed,
        rng: Rng(seed),
        dir,
        kafka_port,
        process: Some(process),
        http: http_addr,
        up: [true; BROKERS as usize],
        ledger: Arc::default(),
        pending: Arc::default(),
        active: Arc::new(AtomicU64::new(ALL_PARTITIONS)),
        watermarks: Arc::default(),
        reader: Arc::new(reader),
        probe,
        probes: 0,
        log: Log::default(),
        round: 0,
        steps: Vec::new(),
    };

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(run_load(
        producer,
        Arc::clone(&drill.ledger),
        Arc::clone(&drill.pending),
        Arc::clone(&drill.active),
        Arc::clone(&stop),
    ));
    let sampler =
        tokio::spawn(sample_watermarks(Arc::clone(&drill.http), Arc::clone(&drill.watermarks), Arc::clone(&stop)));

    drill.step("warm-up");
    tokio::time::sleep(Duration::from_secs(1)).await;
    drill.check(true).await;
    for round in 1..=rounds {
        drill.round = round;
        drill.run_round().await;
    }

    stop.store(true, Ordering::Release);
    drill.step("drain: every record sent is acknowledged or failed");
    let producer = load.await.expect("load task");
    let deadline = Instant::now() + Duration::from_secs(320);
    while drill.pending.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(producer);
    if drill.pending.load(Ordering::Acquire) > 0 {
        drill.fail(format!(
            "{} deliveries still pending after the message timeout",
            drill.pending.load(Ordering::Acquire)
        ));
    }
    drill.check(true).await;
    drill.finish().await;
    sampler.abort();

    let ledger = drill.ledger.lock().expect("ledger");
    format!(
        "drill seed {seed}: {rounds} rounds survived in {:.0} s, {} records acknowledged ({} of them probes), 0 lost, 0 duplicated, order kept",
        started.elapsed().as_secs_f64(),
        ledger.acked_total,
        drill.probes,
    )
}

/// Steady acks=all load: `RATE` records a second, round robin over the partitions in `active`,
/// each value its sequence number. Returns the producer when stopped, so the caller can wait for
/// the deliveries still in flight.
async fn run_load(
    producer: FutureProducer,
    ledger: Arc<Mutex<Ledger>>,
    pending: Arc<AtomicU64>,
    active: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> FutureProducer {
    let mut seq = 0u64;
    let mut turn = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !stop.load(Ordering::Acquire) {
        tick.tick().await;
        let mask = active.load(Ordering::Acquire);
        let targets: Vec<i32> = (0..PARTITIONS).filter(|p| mask & (1 << p) != 0).collect();
        for _ in 0..RATE / 100 {
            turn += 1;
            let partition = targets[turn % targets.len()];
            let value = payload(seq);
            let record = FutureRecord::<[u8], [u8]>::to(TOPIC).partition(partition).payload(value.as_slice());
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.fetch_add(1, Ordering::AcqRel);
                    let (ledger, pending) = (Arc::clone(&ledger), Arc::clone(&pending));
                    tokio::spawn(async move {
                        let outcome = delivery.await;
                        let mut ledger = ledger.lock().expect("ledger");
                        match outcome {
                            Ok(Ok(d)) => {
                                ledger.acked.push((seq, d.partition, d.offset));
                                ledger.acked_total += 1;
                            }
                            Ok(Err((e, _))) => ledger.failed.push((seq, e.to_string())),
                            Err(_) => ledger.failed.push((seq, "delivery future cancelled".into())),
                        }
                        pending.fetch_sub(1, Ordering::AcqRel);
                    });
                    seq += 1;
                }
                // librdkafka's queue is full (a long outage): try again next tick.
                Err((KafkaError::MessageProduction(_), _)) => break,
                Err((e, _)) => panic!("cannot enqueue a record: {e}"),
            }
        }
    }
    producer
}

fn payload(seq: u64) -> Vec<u8> {
    let mut value = seq.to_be_bytes().to_vec();
    value.extend_from_slice(&[b'd'; 92]);
    value
}

/// Samples every partition's high watermark every 100 ms, through restarts.
async fn sample_watermarks(addr: Arc<Mutex<SocketAddr>>, watermarks: Arc<Mutex<Watermarks>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Acquire) {
        let at = *addr.lock().expect("addr");
        let sent = Instant::now();
        if let Ok(views) = topic_view(at).await {
            watermarks.lock().expect("watermarks").observe(&views, "sampled", sent);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn topic_view(addr: SocketAddr) -> anyhow::Result<Vec<PartitionView>> {
    let (status, _, body) = http(addr, "GET", &format!("/api/v1/topics/{TOPIC}"), None, &[]).await?;
    anyhow::ensure!(status == 200, "GET /api/v1/topics/{TOPIC}: {status} {body}");
    let json: Value = serde_json::from_str(&body)?;
    let partitions = json["partitions"].as_array().ok_or_else(|| anyhow::anyhow!("no partitions in {body}"))?;
    Ok(partitions
        .iter()
        .map(|p| PartitionView {
            leader: p["leader"].as_i64().unwrap_or(-1) as i32,
            isr: p["isr"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_i64).map(|v| v as i32).collect())
                .unwrap_or_default(),
            high_watermark: p["high_watermark"].as_i64().unwrap_or(-1),
            log_end_offset: p["log_end_offset"].as_i64().unwrap_or(-1),
        })
        .collect())
}

impl Drill {
    fn step(&mut self, what: impl Into<String>) {
        let what = what.into();
        self.steps.push(format!("round {}: {what}", self.round));
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        let recent: Vec<&String> = self.steps.iter().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        let log = std::fs::read_to_string(self.dir.path().join("warren.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        panic!(
            "fault drill failed: seed {}, {}: {what}\nsteps so far (last 12):\n  {}\nwarren's log (last 40 lines):\n{}\nreplay: WARREN_DRILL_SEED={} WARREN_DRILL_ROUNDS={} [WARREN_DRILL_LOG=info] cargo test -p warren-tests --test e2e drill::soak -- --ignored --nocapture",
            self.seed,
            self.steps.last().map_or("start", String::as_str),
            recent.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
            tail.join("\n"),
            self.seed,
            self.round.max(1),
        );
    }

    fn http_addr(&self) -> SocketAddr {
        *self.http.lock().expect("addr")
    }

    async fn post(&mut self, path: &str) {
        match http(self.http_addr(), "POST", path, None, &[]).await {
            Ok((200, _, _)) => {}
            Ok((status, _, body)) => self.fail(format!("POST {path}: {status} {body}")),
            Err(e) => self.fail(format!("POST {path}: {e}")),
        }
    }

    async fn view(&self) -> Vec<PartitionView> {
        match topic_view(self.http_addr()).await {
            Ok(views) => views,
            Err(e) => self.fail(format!("cannot read the topic: {e}")),
        }
    }

    fn up_ids(&self) -> Vec<i32> {
        (1..=BROKERS).filter(|id| self.up[(*id - 1) as usize]).collect()
    }

    async fn stop_broker(&mut self, id: i32) {
        self.step(format!("stop broker {id}"));
        self.post(&format!("/api/v1/brokers/{id}/stop")).await;
        self.up[(id - 1) as usize] = false;
    }

    async fn start_broker(&mut self, id: i32) {
        self.step(format!("start broker {id}"));
        self.post(&format!("/api/v1/brokers/{id}/start")).await;
        self.up[(id - 1) as usize] = true;
    }

    async fn kill9(&mut self) {
        self.step(format!("kill -9 with brokers {:?} up, restart on the same data dir", self.up_ids()));
        if let Some(process) = self.process.take() {
            process.kill9().expect("kill -9");
        }
        let process = spawn(self.dir.path(), self.kafka_port);
        *self.http.lock().expect("addr") = process.http;
        self.process = Some(process);
        // A restart brings every broker up.
        self.up = [true; BROKERS as usize];
    }

    async fn run_round(&mut self) {
        // Half the rounds write to every partition, the others to a random part of them.
        let mask = match self.rng.below(2) {
            0 => ALL_PARTITIONS,
            _ => 1 + self.rng.below(ALL_PARTITIONS),
        };
        self.active.store(mask, Ordering::Release);
        let active: Vec<i32> = (0..PARTITIONS).filter(|p| mask & (1 << p) != 0).collect();
        self.step(format!("load on partitions {active:?}"));
        let fault = Fault::draw(&mut self.rng);
        match fault {
            Fault::StopOne => {
                let id = self.rng.pick(&self.up_ids());
                self.stop_broker(id).await;
            }
            Fault::StopTwo => {
                let mut ids = self.up_ids();
                self.rng.shuffle(&mut ids);
                let gap = self.rng.millis(0, 3000);
                self.stop_broker(ids[0]).await;
                self.hold(gap).await;
                self.check(false).await;
                self.stop_broker(ids[1]).await;
            }
            Fault::StopController => {
                let cluster = self.get_json("/api/v1/cluster").await;
                let controller = cluster["controller_id"].as_i64().unwrap_or(-1) as i32;
                self.step(format!("the controller is broker {controller}"));
                if controller < 1 {
                    self.fail(format!("no controller with every broker up: {cluster}"));
                }
                self.stop_broker(controller).await;
            }
            Fault::StopLeader => {
                let partition = self.rng.below(PARTITIONS as u64) as usize;
                let leader = self.view().await[partition].leader;
                self.step(format!("the leader of {TOPIC}/{partition} is broker {leader}"));
                if leader < 1 {
                    self.fail(format!("{TOPIC}/{partition} has no leader with every broker up"));
                }
                self.stop_broker(leader).await;
            }
            Fault::FollowerBehind => {
                let id = self.rng.pick(&self.up_ids());
                self.follower_behind(id).await;
            }
            Fault::Kill9 => self.kill9().await,
        }
        let hold = self.rng.millis(300, 2500);
        self.hold(hold).await;
        self.check(false).await;
        // Now and then the whole process dies while brokers are down.
        let crash = !matches!(fault, Fault::Kill9 | Fault::FollowerBehind) && self.rng.below(4) == 0;
        if crash {
            self.kill9().await;
            self.check(false).await;
        }
        self.heal().await;
    }

    async fn hold(&mut self, how_long: Duration) {
        self.step(format!("hold {} ms under load", how_long.as_millis()));
        tokio::time::sleep(how_long).await;
    }

    async fn get_json(&mut self, path: &str) -> Value {
        match http(self.http_addr(), "GET", path, None, &[]).await {
            Ok((200, _, body)) => serde_json::from_str(&body).unwrap_or_else(|e| self.fail(format!("GET {path}: {e}"))),
            Ok((status, _, body)) => self.fail(format!("GET {path}: {status} {body}")),
            Err(e) => self.fail(format!("GET {path}: {e}")),
        }
    }

    /// Pauses a broker's fetcher until it has left the ISR of every partition under load that it
    /// follows (an idle one it has caught up with keeps it, as in Kafka), checks (acks=all must
    /// still work with two in sync), then resumes it.
    async fn follower_behind(&mut self, id: i32) {
        self.step(format!("pause broker {id}'s replica fetcher"));
        self.post(&format!("/api/v1/brokers/{id}/pause-replication")).await;
        let deadline = Instant::now() + LAG_MAX + Duration::from_secs(10);
        let active = self.active.load(Ordering::Acquire);
        loop {
            let views = self.view().await;
            let behind =
                |(p, v): (usize, &PartitionView)| active & (1 << p) == 0 || v.leader == id || !v.isr.contains(&id);
            if views.iter().enumerate().all(behind) {
                break;
            }
            if Instant::now() > deadline {
                self.fail(format!("broker {id} was paused for {LAG_MAX:?} + 10 s and is still in the ISR of a partition under load: {views:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.step(format!("broker {id} left the ISR of every partition under load it follows"));
        self.check(false).await;
        self.step(format!("resume broker {id}'s replica fetcher"));
        self.post(&format!("/api/v1/brokers/{id}/resume-replication")).await;
    }

    /// Starts every stopped broker in a random order, then checks that every ISR is full within
    /// `replica_lag_time_max` + 10 s and that acks=all works.
    async fn heal(&mut self) {
        let mut down: Vec<i32> = (1..=BROKERS).filter(|id| !self.up[(*id - 1) as usize]).collect();
        self.rng.shuffle(&mut down);
        for (i, id) in down.iter().enumerate() {
            if i > 0 {
                let gap = self.rng.millis(0, 2000);
                self.hold(gap).await;
                self.check(false).await;
            }
            self.start_broker(*id).await;
        }
        self.step("every broker up: every ISR must be full within replica_lag_time_max + 10 s");
        let deadline = Instant::now() + LAG_MAX + Duration::from_secs(10);
        loop {
            let views = self.view().await;
            if views.iter().all(|v| v.isr.len() == BROKERS as usize) {
                break;
            }
            if Instant::now() > deadline {
                self.fail(format!("ISRs not full {LAG_MAX:?} + 10 s after every broker was up: {views:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.check(true).await;
    }

    /// The invariants, now. `healed`: every broker is up and every ISR full.
    async fn check(&mut self, healed: bool) {
        let sent = Instant::now();
        let views = self.view().await;
        self.watermarks.lock().expect("watermarks").observe(&views, "checked", sent);
        let backwards = self.watermarks.lock().expect("watermarks").backwards.clone();
        if !backwards.is_empty() {
            self.fail(format!("a high watermark went backwards: {}", backwards.join("; ")));
        }
        let up = self.up_ids();
        for (p, v) in views.iter().enumerate() {
            if let Some(stray) = v.isr.iter().find(|r| !up.contains(r)) {
                self.fail(format!("{TOPIC}/{p}: broker {stray} is in the ISR {:?} but down", v.isr));
            }
            if !v.isr.is_empty() && (v.leader < 1 || !up.contains(&v.leader)) {
                self.fail(format!("{TOPIC}/{p} has ISR members up ({:?}) but no leader ({})", v.isr, v.leader));
            }
        }
        if healed && views.iter().any(|v| v.isr.len() < BROKERS as usize) {
            self.fail(format!("not every ISR is full: {views:?}"));
        }
        if views.iter().all(|v| v.isr.len() >= MIN_ISR) {
            self.probe_acks_all().await;
        }
        // Read up to the high watermarks after the probes, which are below them.
        let sent = Instant::now();
        let views = self.view().await;
        self.watermarks.lock().expect("watermarks").observe(&views, "checked", sent);
        self.read_back(&views).await;
        // With a five-minute message timeout no delivery may fail: a failure is an error warren
        // returned that the idempotent producer could not retry past (a fatal sequence error).
        let failed = self.ledger.lock().expect("ledger").failed.clone();
        if let Some((seq, e)) = failed.first() {
            self.fail(format!("{} deliveries failed, seq {seq} first: {e}", failed.len()));
        }
    }

    /// One acks=all record to every partition: each must be acknowledged.
    async fn probe_acks_all(&mut self) {
        self.step("probe: acks=all to every partition (every ISR is at min.insync.replicas)");
        let mut waits = Vec::new();
        for partition in 0..PARTITIONS {
            let seq = PROBE_BASE + self.probes;
            self.probes += 1;
            let value = payload(seq);
            let record = FutureRecord::<[u8], [u8]>::to(TOPIC).partition(partition).payload(value.as_slice());
            match self.probe.send_result(record) {
                Ok(delivery) => waits.push((seq, partition, delivery)),
                Err((e, _)) => self.fail(format!("cannot enqueue a probe: {e}")),
            }
        }
        for (seq, partition, delivery) in waits {
            match delivery.await {
                Ok(Ok(d)) => {
                    let mut ledger = self.ledger.lock().expect("ledger");
                    ledger.acked.push((seq, d.partition, d.offset));
                    ledger.acked_total += 1;
                }
                Ok(Err((e, _))) => self
                    .fail(format!("acks=all to {TOPIC}/{partition} failed with every ISR at min.insync.replicas: {e}")),
                Err(_) => self.fail("a probe's delivery was cancelled"),
            }
        }
    }

    /// Reads every partition from where the last read stopped up to the high watermark now, and
    /// checks what was read and what was acknowledged.
    async fn read_back(&mut self, views: &[PartitionView]) {
        let acked = std::mem::take(&mut self.ledger.lock().expect("ledger").acked);
        self.log.unverified.extend(acked);
        let targets: BTreeMap<i32, i64> = views
            .iter()
            .enumerate()
            .filter(|(_, v)| v.high_watermark >= 0)
            .map(|(p, v)| (p as i32, v.high_watermark))
            .collect();
        let from: BTreeMap<i32, i64> =
            (0..PARTITIONS).map(|p| (p, self.log.next.get(&p).copied().unwrap_or(0))).collect();
        let reader = Arc::clone(&self.reader);
        let read = tokio::task::spawn_blocking(move || read_range(&reader, &from, &targets)).await.expect("reader");
        match read {
            Ok(records) => {
                for (p, offset, seq) in records {
                    if let Err(e) = self.log.absorb(p, offset, seq) {
                        self.fail(e);
                    }
                }
            }
            Err(e) => self.fail(e),
        }
        if let Err(e) = self.log.verify_acked() {
            self.fail(e);
        }
    }

    /// The end: every acknowledged record read back, and a full re-read from the start by a new
    /// consumer finds exactly what the incremental reads found.
    async fn finish(&mut self) {
        self.step("final: every acknowledged record read back; a full re-read matches");
        if !self.log.unverified.is_empty() {
            let (seq, p, o) = self.log.unverified[0];
            self.fail(format!(
                "{} acknowledged records were never readable, seq {seq} at {TOPIC}/{p} offset {o} first",
                self.log.unverified.len()
            ));
        }
        let bootstrap = self.process.as_ref().map(WarrenProcess::bootstrap).unwrap_or_default();
        let reader: BaseConsumer = client(&bootstrap)
            .set("group.id", "warren-drill-final")
            .set("enable.auto.commit", "false")
            .create()
            .expect("reader");
        let from: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
        let targets = self.log.next.clone();
        let again = tokio::task::spawn_blocking(move || read_range(&reader, &from, &targets)).await.expect("reader");
        let again = again.unwrap_or_else(|e| self.fail(e));
        let mut seen = HashSet::new();
        let mut count = 0usize;
        for (p, offset, seq) in again {
            if offset >= self.log.next.get(&p).copied().unwrap_or(0) {
                continue;
            }
            count += 1;
            match self.log.records.get(&p).and_then(|r| r.get(&offset)) {
                Some(found) if *found == seq => {}
                other => self.fail(format!("re-read {TOPIC}/{p} offset {offset}: seq {seq}, first read {other:?}")),
            }
            if !seen.insert(seq) {
                self.fail(format!("re-read: seq {seq} twice"));
            }
        }
        let first: usize = self.log.records.values().map(BTreeMap::len).sum();
        if count != first {
            self.fail(format!(
                "the full re-read found {count} records below the read positions, the incremental reads {first}"
            ));
        }
    }
}

/// Reads each partition from `from[p]` until at least `to[p]` (records past it are kept too),
/// within 60 s. Returns (partition, offset, seq).
fn read_range(
    reader: &BaseConsumer,
    from: &BTreeMap<i32, i64>,
    to: &BTreeMap<i32, i64>,
) -> Result<Vec<(i32, i64, u64)>, String> {
    let mut next: BTreeMap<i32, i64> =
        to.iter().filter(|(p, end)| from.get(p).copied().unwrap_or(0) < **end).map(|(p, _)| (*p, from[p])).collect();
    if next.is_empty() {
        return Ok(Vec::new());
    }
    let mut tpl = TopicPartitionList::new();
    for (p, offset) in &next {
        tpl.add_partition_offset(TOPIC, *p, Offset::Offset(*offset)).map_err(|e| e.to_string())?;
    }
    reader.assign(&tpl).map_err(|e| format!("assign: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while next.iter().any(|(p, n)| *n < to[p]) {
        if Instant::now() > deadline {
            return Err(format!("reading back timed out at {next:?}, wanted {to:?}"));
        }
        // Errors are leaders moving and brokers restarting under the reader: librdkafka retries.
        let Some(Ok(m)) = reader.poll(Duration::from_millis(200)) else {
            continue;
        };
        let Some(value) = m.payload() else {
            return Err(format!("a record without a value at {}/{}", m.partition(), m.offset()));
        };
        let Some(seq) = value.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes) else {
            return Err(format!("a record that is not the drill's at {}/{}", m.partition(), m.offset()));
        };
        if let Some(n) = next.get_mut(&m.partition()) {
            if m.offset() < *n {
                continue;
            }
            *n = m.offset() + 1;
        }
        out.push((m.partition(), m.offset(), seq));
    }
    reader.unassign().map_err(|e| format!("unassign: {e}"))?;
    Ok(out)
}
