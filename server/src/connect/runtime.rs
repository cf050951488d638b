//! The task loops. A failed task is FAILED with its error, waits (1 s doubling to a minute) and
//! is made again from its committed offsets; the connector's other tasks run on.
//!
//! A source task's records and its new offsets go out in one Kafka transaction per poll (Kafka's
//! exactly-once source support, `transaction.boundary=poll`): a crash at any point leaves either
//! both or neither, so a restart resumes exactly after the last record written. Offsets live in
//! `connect-offsets`; the transactional id is `connect-cluster-<connector>-<task>`, as Kafka's.
//!
//! A sink task reads its share of the topics' partitions read_committed, hands the records to
//! the connector, flushes, then commits the offsets in group `connect-<connector>`: at least
//! once; a crash between the flush and the commit hands the last records over again.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use super::converter::Converter;
use super::file::{FileSinkTask, FileSourceTask};
use super::jdbc::{JdbcSinkTask, JdbcSourceTask};
use super::plugin::{self, Config, Plugin, SinkTask, SourceRecord, SourceTask};
use super::storage::{self, offset_record};
use super::supervisor::backoff;
use super::topics::OffsetMap;
use super::transforms::{self, ConnectRecord, Transform};
use super::validate;
use super::worker::{sink_group, ConnectorEntry, State, Status, TaskShared, Worker};
use crate::kafka::admin::NewTopic;
use crate::kafka::records::{OffsetSpec, ProduceRecord};
use crate::kafka::TxnProducer;
use crate::tools::producer::key_partition;

/// What the supervisor wants of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Run,
    Pause,
    Stop,
}

/// The most record bytes one produce batch of a partition holds (under Kafka's 1 MiB limit).
const ROUND_BYTES: usize = 512 << 10;
/// How long a transaction may stay open before the coordinator aborts it.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a sink task looks for new partitions.
const ASSIGNMENT_REFRESH: Duration = Duration::from_secs(10);
const FETCH_WAIT: Duration = Duration::from_millis(500);
const FETCH_BYTES: i32 = 1 << 20;
/// A run longer than this was healthy: the next failure starts the backoff over.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// What every loop of one task needs.
struct TaskContext<'a> {
    worker: &'a Arc<Worker>,
    entry: &'a Arc<ConnectorEntry>,
    config: &'a Config,
    shared: &'a Arc<TaskShared>,
    /// How many tasks the connector has (a sink shares its partitions among them).
    task_count: usize,
    key_converter: Converter,
    value_converter: Converter,
    transforms: Vec<Transform>,
}

impl TaskContext<'_> {
    fn connector(&self) -> &str {
        &self.entry.name
    }

    fn publish(&self, state: State) {
        self.worker.publish(self.entry, Some(self.shared), Status::new(state));
    }

    fn transform(&self, mut record: ConnectRecord) -> anyhow::Result<ConnectRecord> {
        for t in &self.transforms {
            record = t.apply(record).with_context(|| format!("transform '{}'", t.alias()))?;
        }
        Ok(record)
    }

    /// Waits while paused; false when the task is to stop.
    async fn wait_running(&self, control: &mut watch::Receiver<Control>) -> bool {
        let mut paused = false;
        loop {
            match *control.borrow_and_update() {
                Control::Stop => return false,
                Control::Run => break,
                Control::Pause => {}
            }
            if !paused {
                self.publish(State::Paused);
                paused = true;
            }
            if control.changed().await.is_err() {
                return false;
            }
        }
        if paused {
            self.publish(State::Running);
        }
        true
    }
}

/// Runs one task until told to stop, remaking it after each failure.
pub(super) async fn run_task(
    worker: Arc<Worker>,
    entry: Arc<ConnectorEntry>,
    plugin: Plugin,
    config: Config,
    shared: Arc<TaskShared>,
    task_count: usize,
    mut control: watch::Receiver<Control>,
) {
    let mut failures = 0;
    loop {
        if *control.borrow() == Control::Stop {
            return;
        }
        let started = Instant::now();
        let result = run_once(&worker, &entry, plugin, &config, &shared, task_count, &mut control).await;
        let Err(e) = result else { return };
        if started.elapsed() > HEALTHY_RUN {
            failures = 0;
        }
        failures += 1;
        tracing::warn!(connector = entry.name, task = shared.id, error = %format!("{e:#}"), "Connect: task failed");
        worker.publish(&entry, Some(&shared), Status::failed(&e));
        tokio::select! {
            () = tokio::time::sleep(backoff(failures)) => {}
            _ = control.wait_for(|c| *c == Control::Stop) => return,
        }
    }
}

async fn run_once(
    worker: &Arc<Worker>,
    entry: &Arc<ConnectorEntry>,
    plugin: Plugin,
    config: &Config,
    shared: &Arc<TaskShared>,
    task_count: usize,
    control: &mut watch::Receiver<Control>,
) -> anyhow::Result<()> {
    let cx = TaskContext {
        worker,
        entry,
        config,
        shared,
        task_count,
        key_converter: validate::converter(config, "key").map_err(anyhow::Error::msg)?,
        value_converter: validate::converter(config, "value").map_err(anyhow::Error::msg)?,
        transforms: transforms::from_config(config).map_err(anyhow::Error::msg)?,
    };
    match plugin {
        Plugin::FileSource => {
            let (producer, offsets) = fence_and_read_offsets(&cx).await?;
            source_loop(&cx, FileSourceTask::start(config, &offsets)?, producer, control).await
        }
        Plugin::JdbcSource => {
            let (producer, offsets) = fence_and_read_offsets(&cx).await?;
            source_loop(&cx, JdbcSourceTask::start(config, &offsets).await?, producer, control).await
        }
        Plugin::FileSink => sink_loop(&cx, FileSinkTask::start(config)?, control).await,
        Plugin::JdbcSink => sink_loop(&cx, JdbcSinkTask::start(config).await?, control).await,
    }
}

/// A source task's start, in the order Kafka's exactly-once source tasks keep: first fence any
/// earlier producer of this task (its open transaction is aborted, a commit in flight is
/// finished), then read the connector's committed offsets afresh, so the task resumes exactly
/// after the last poll that was committed, whatever a crash or a cut-off left behind.
async fn fence_and_read_offsets(cx: &TaskContext<'_>) -> anyhow::Result<(TxnProducer, super::plugin::Offsets)> {
    let id = format!("connect-cluster-{}-{}", cx.connector(), cx.shared.id);
    let producer = TxnProducer::init(cx.worker.client().clone(), &id, TRANSACTION_TIMEOUT).await?;
    let offsets = cx.worker.storage.read_offsets(cx.connector()).await.context("reading connect-offsets")?;
    cx.worker.set_source_offsets(cx.connector(), offsets.clone());
    Ok((producer, offsets))
}

async fn source_loop(
    cx: &TaskContext<'_>,
    mut task: impl SourceTask,
    mut producer: TxnProducer,
    control: &mut watch::Receiver<Control>,
) -> anyhow::Result<()> {
    cx.publish(State::Running);
    let mut sticky = 0usize;
    loop {
        if !cx.wait_running(control).await {
            return Ok(());
        }
        let records = tokio::select! {
            polled = task.poll() => polled?,
            _ = control.changed() => continue,
        };
        if records.is_empty() {
            continue;
        }
        let count = records.len() as u64;
        cx.shared.records_in.fetch_add(count, Ordering::Relaxed);
        sticky = sticky.wrapping_add(1);
        let (batches, offsets) = encode_source(cx, records, sticky).await?;
        let written = async {
            for round in rounds(batches) {
                producer.send(&round).await?;
            }
            producer.finish("", &BTreeMap::new()).await
        };
        if let Err(e) = written.await {
            // Nothing of this poll is visible; the task is made again from the committed offsets.
            let _ = producer.abort().await;
            return Err(e).context("writing the records and their offsets");
        }
        cx.worker.commit_offsets(cx.connector(), offsets.into_values().map(|(p, o)| (p, Some(o))));
        cx.shared.wrote(count);
    }
}

type Batches = BTreeMap<(String, i32), Vec<ProduceRecord>>;

/// A poll's records as produce batches, with the last offset of each source partition among them
/// (also in the batches, as `connect-offsets` records).
async fn encode_source(
    cx: &TaskContext<'_>,
    records: Vec<SourceRecord>,
    sticky: usize,
) -> anyhow::Result<(Batches, BTreeMap<String, (OffsetMap, OffsetMap)>)> {
    let now = crate::monitor::now_ms();
    let mut batches = Batches::new();
    let mut offsets = BTreeMap::new();
    let mut topic_cache: Option<(String, i32)> = None;
    for source in records {
        let (record, position) = source.into_parts();
        if let Some((partition, offset)) = position {
            offsets.insert(plugin::partition_key(&partition), (partition, offset));
        }
        let record = cx.transform(record)?;
        let key = cx.key_converter.from_connect(record.key_schema.as_ref(), &record.key)?;
        let value = cx.value_converter.from_connect(record.value_schema.as_ref(), &record.value)?;
        let partitions = match &topic_cache {
            Some((topic, n)) if *topic == record.topic => *n,
            _ => {
                let n = topic_partitions(cx.worker, &record.topic).await?;
                cx.shared.used_topic(&record.topic);
                topic_cache = Some((record.topic.clone(), n));
                n
            }
        };
        let partition = match (record.partition, &key) {
            (Some(p), _) => p,
            (None, Some(k)) => key_partition(k, partitions),
            (None, None) => (sticky % partitions as usize) as i32,
        };
        batches.entry((record.topic, partition)).or_default().push(ProduceRecord {
            key: key.map(Bytes::from),
            value: value.map(Bytes::from),
            headers: Vec::new(),
            timestamp_ms: record.timestamp.unwrap_or(now),
        });
    }
    for (partition, offset) in offsets.values() {
        let (p, record) = offset_record(cx.connector(), partition, Some(offset));
        batches.entry((storage::OFFSET_TOPIC.to_string(), p)).or_default().push(record);
    }
    Ok((batches, offsets))
}

/// Splits batches into rounds whose batches stay under [`ROUND_BYTES`], in order per partition.
fn rounds(batches: Batches) -> Vec<Batches> {
    let mut out: Vec<Batches> = Vec::new();
    for (key, records) in batches {
        let mut round = 0;
        let mut bytes = 0;
        for record in records {
            let size = record.key.as_ref().map_or(0, Bytes::len) + record.value.as_ref().map_or(0, Bytes::len) + 32;
            if bytes > 0 && bytes + size > ROUND_BYTES {
                round += 1;
                bytes = 0;
            }
            bytes += size;
            if out.len() <= round {
                out.push(Batches::new());
            }
            out[round].entry(key.clone()).or_default().push(record);
        }
    }
    out
}

/// How many partitions `topic` has, creating it (with the cluster's defaults) when it is missing.
async fn topic_partitions(worker: &Worker, topic: &str) -> anyhow::Result<i32> {
    if let Some(n) = worker.topic_partitions.lock().expect("topics lock").get(topic) {
        return Ok(*n);
    }
    let mut n = worker.storage.partitions(topic).await?;
    if n == 0 {
        let new = NewTopic { name: topic.to_string(), partitions: None, replication_factor: None, configs: Vec::new() };
        match worker.client().create_topic(&new).await {
            Ok(()) => {}
            Err(e) if e.code() == Some(36) => {}
            Err(e) => return Err(e).with_context(|| format!("creating topic '{topic}'")),
        }
        n = worker.storage.partitions(topic).await?;
        anyhow::ensure!(n > 0, "topic '{topic}' has no partitions yet");
    }
    worker.topic_partitions.lock().expect("topics lock").insert(topic.to_string(), n);
    Ok(n)
}

/// The partitions of the sink's topics that this task reads.
async fn assignment(cx: &TaskContext<'_>) -> anyhow::Result<Vec<(String, i32)>> {
    let topics = plugin::list(cx.config, "topics");
    let regex = match cx.config.get("topics.regex").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(r) => Some(regex::Regex::new(&format!("^(?:{r})$")).context("topics.regex")?),
        None => None,
    };
    let metadata = cx.worker.client().metadata(None).await?;
    let mut all = Vec::new();
    for (name, topic) in &metadata.topics {
        let wanted = match &regex {
            Some(r) => r.is_match(name) && !name.starts_with("__") && !name.starts_with("connect-"),
            None => topics.contains(name),
        };
        if wanted {
            all.extend(topic.partitions.iter().map(|p| (name.clone(), p.partition)));
        }
    }
    // By a hash of the partition, not its rank: a new topic or partition never moves one that a
    // task already reads to another task.
    let (index, count) = (cx.shared.id as i32, cx.task_count.max(1) as i32);
    all.retain(|(t, p)| key_partition(format!("{t}-{p}").as_bytes(), count) == index);
    all.sort();
    Ok(all)
}

async fn sink_loop(
    cx: &TaskContext<'_>,
    mut task: impl SinkTask,
    control: &mut watch::Receiver<Control>,
) -> anyhow::Result<()> {
    let client = cx.worker.client();
    let group = sink_group(cx.connector());
    let mut positions: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut assigned_at: Option<Instant> = None;
    cx.publish(State::Running);
    loop {
        if !cx.wait_running(control).await {
            return Ok(());
        }
        // Without partitions (the topics do not exist yet), look again every second.
        let refresh = if positions.is_empty() { Duration::from_secs(1) } else { ASSIGNMENT_REFRESH };
        if assigned_at.is_none_or(|at| at.elapsed() > refresh) {
            let assigned = assignment(cx).await?;
            positions.retain(|k, _| assigned.contains(k));
            let new: Vec<(String, i32)> = assigned.into_iter().filter(|k| !positions.contains_key(k)).collect();
            if !new.is_empty() {
                let committed = client.offset_fetch(&group).await?;
                let earliest = client.list_offsets(&new, OffsetSpec::Earliest).await;
                for key in new {
                    let start = match committed.get(&key) {
                        Some(o) => *o,
                        None => *earliest.get(&key).and_then(|r| r.as_ref().ok()).unwrap_or(&0),
                    };
                    cx.shared.used_topic(&key.0);
                    positions.insert(key, start);
                }
            }
            assigned_at = Some(Instant::now());
        }
        if positions.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = control.changed() => {}
            }
            continue;
        }
        let fetched = tokio::select! {
            fetched = client.fetch(&positions, FETCH_WAIT, FETCH_BYTES) => fetched,
            _ = control.changed() => continue,
        };
        let mut next = positions.clone();
        let mut records = Vec::new();
        for (key, result) in fetched {
            // An unreachable leader: the next round asks again.
            let Ok(p) = result else { continue };
            let position = positions.get(&key).copied().unwrap_or(0);
            match p.error_code {
                0 => {}
                1 => {
                    // OFFSET_OUT_OF_RANGE: retention passed the position; start from the log start.
                    let earliest = client.list_offsets(std::slice::from_ref(&key), OffsetSpec::Earliest).await;
                    if let Some(Ok(start)) = earliest.get(&key) {
                        next.insert(key, *start);
                    }
                    continue;
                }
                3 | 5 | 6 | 74 | 75 => {
                    // The leader moved or metadata lags: look again next round.
                    assigned_at = None;
                    continue;
                }
                code => anyhow::bail!("reading {}-{}: {}", key.0, key.1, crate::kafka::error::code_name(code)),
            }
            for r in p.records.into_iter().filter(|r| r.offset >= position) {
                let (key_schema, k) = cx.key_converter.to_connect(r.key.as_deref())?;
                let (value_schema, v) = cx.value_converter.to_connect(r.value.as_deref())?;
                records.push(cx.transform(ConnectRecord {
                    topic: key.0.clone(),
                    partition: Some(key.1),
                    offset: Some(r.offset),
                    timestamp: Some(r.timestamp_ms),
                    key_schema,
                    key: k,
                    value_schema,
                    value: v,
                })?);
            }
            next.insert(key, p.next_offset.max(position));
        }
        let moved: BTreeMap<(String, i32), i64> =
            next.iter().filter(|(k, o)| positions.get(*k) != Some(*o)).map(|(k, o)| (k.clone(), *o)).collect();
        if moved.is_empty() {
            continue;
        }
        let count = records.len() as u64;
        cx.shared.records_in.fetch_add(count, Ordering::Relaxed);
        if !records.is_empty() {
            task.put(records).await?;
        }
        task.flush().await?;
        client.offset_commit(&group, -1, "", &moved).await.context("committing the sink's offsets")?;
        cx.shared.wrote(count);
        positions = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_keep_batches_under_the_cap_in_order() {
        let record = |i: u32| ProduceRecord {
            key: None,
            value: Some(Bytes::from(format!("{i}{}", "x".repeat(100_000)))),
            headers: Vec::new(),
            timestamp_ms: 0,
        };
        let mut batches = Batches::new();
        batches.insert(("a".into(), 0), (0..12).map(record).collect());
        batches.insert(("b".into(), 1), vec![record(99)]);
        let rounds = rounds(batches);
        assert_eq!(rounds.len(), 3);
        let a: Vec<ProduceRecord> =
            rounds.iter().flat_map(|r| r.get(&("a".to_string(), 0)).cloned().unwrap_or_default()).collect();
        assert_eq!(a, (0..12).map(record).collect::<Vec<_>>());
        for round in &rounds {
            for records in round.values() {
                let bytes: usize = records.iter().map(|r| r.value.as_ref().expect("test").len()).sum();
                assert!(bytes <= ROUND_BYTES, "{bytes}");
            }
        }
    }
}
