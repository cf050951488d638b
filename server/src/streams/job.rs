//! One run of a stream job against its cluster, over the Kafka protocol: once `setup` has set
//! it up and restored it, fetch, process and commit in cycles until told to stop or something
//! fails.
//!
//! Tasks are Kafka Streams' tasks: task p owns partition p of every input it reads (the source
//! topics, or the repartition topic when `key` re-keys, plus partition p of a KTable) and
//! partition p of the changelog. Within a task, records are processed in timestamp order across
//! its inputs, and a task waits while one of its inputs has nothing buffered but is behind its
//! high watermark, so a stream record meets the table as of its own time.
//!
//! A cycle's outputs (sink, changelog, repartition records) are acknowledged by every in-sync
//! replica before the input offsets are committed in group `<name>` (at least once); with
//! `exactly_once_v2` they and the offsets are one transaction. Each committed offset carries the
//! task's stream time and, at least once, the changelog's end at that commit: a restart restores
//! the changelog up to there, repairs what a crashed run wrote past it, and replays the inputs
//! from the committed offsets, so a crash neither loses nor double-counts.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use super::record::{self, CommitMeta, StateKey};
use super::setup::current_entry;
use super::spec::{JobSpec, Operation, Table};
use super::window::{Agg, Engine, Event};
use super::{Control, JobState};
use crate::kafka::{Client, ClientConfig, ConsumedRecord, OffsetSpec, ProduceRecord, TxnProducer};

/// Why a run ended badly: `fatal` failures wait for a start from the operator; the others are
/// retried after a pause.
#[derive(Debug)]
pub struct Failure {
    pub fatal: bool,
    pub message: String,
}

impl Failure {
    pub(super) fn retry(message: impl Into<String>) -> Failure {
        Failure { fatal: false, message: message.into() }
    }
}

impl From<crate::kafka::Error> for Failure {
    fn from(e: crate::kafka::Error) -> Failure {
        Failure::retry(e.to_string())
    }
}

pub(super) type Result<T> = std::result::Result<T, Failure>;

const FETCH_WAIT: Duration = Duration::from_millis(200);
pub(super) const PARTITION_FETCH_BYTES: i32 = 1 << 20;
/// The most one written batch holds: half Kafka's default `max.message.bytes`.
const BATCH_BYTES: usize = 512 * 1024;
const PURGE_INTERVAL: Duration = Duration::from_secs(10);
/// OFFSET_OUT_OF_RANGE: the committed position fell below the log start (retention).
const OFFSET_OUT_OF_RANGE: i16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// A source partition whose records are re-keyed into the repartition topic.
    Rekey,
    /// A stream input of task `task`.
    Stream { task: usize },
    /// The KTable partition of task `task`.
    Table { task: usize },
    /// A GlobalKTable partition: applied as it comes, never committed.
    Global,
}

pub(super) struct Input {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) role: Role,
    pub(super) buffer: VecDeque<ConsumedRecord>,
    pub(super) fetch_next: i64,
    /// After the last processed record: what the group commits.
    pub(super) processed_next: i64,
    /// Where the partition ends for this job (the last stable offset: jobs read read_committed),
    /// as the last fetch of it said.
    pub(super) end: i64,
    /// Whether `end` is from a fetch made since the buffer last ran dry: a drained input is
    /// fetched again before a task decides it has caught up.
    pub(super) fresh: bool,
}

impl Input {
    fn behind(&self) -> bool {
        self.buffer.is_empty() && (!self.fresh || self.fetch_next < self.end)
    }
}

/// One cycle's change to a store entry, before it is encoded.
pub(super) struct Pending {
    /// The entry's new value (None: deleted).
    state: Option<Agg>,
    /// What goes to the sink, if anything: an upsert, or a tombstone.
    result: Option<Option<Agg>>,
    timestamp: i64,
}

pub(super) struct Task {
    pub(super) partition: i32,
    pub(super) pending: HashMap<StateKey, Pending>,
    /// Re-keyed aggregations: the last source offset counted per source partition, and which
    /// changed this cycle.
    pub(super) seen: HashMap<(u16, i32), i64>,
    pub(super) seen_dirty: std::collections::HashSet<(u16, i32)>,
    pub(super) inputs: Vec<usize>,
    pub(super) engine: Option<Engine<Bytes>>,
    pub(super) table: HashMap<Bytes, Bytes>,
    pub(super) stream_time: Option<i64>,
    pub(super) changelog_end: Option<i64>,
    /// Whether the group holds a commit for this task's inputs.
    pub(super) committed: bool,
}

/// A table-like write's latest value and timestamp, by key.
type Upserts = BTreeMap<Bytes, (Option<Bytes>, i64)>;

/// What one cycle writes.
#[derive(Default)]
struct Outputs {
    /// Streams of records (sink of a pass or join, repartition) in order.
    records: BTreeMap<(String, i32), Vec<ProduceRecord>>,
    /// Table-like writes, coalesced by key within the cycle as Kafka Streams' record cache does:
    /// (topic, partition) -> key -> (value, timestamp).
    upserts: BTreeMap<(String, i32), Upserts>,
}

impl Outputs {
    fn push(&mut self, topic: &str, partition: i32, key: Option<Bytes>, value: Option<Bytes>, timestamp_ms: i64) {
        let record = ProduceRecord { key, value, headers: Vec::new(), timestamp_ms };
        self.records.entry((topic.to_string(), partition)).or_default().push(record);
    }

    fn upsert(&mut self, topic: &str, partition: i32, key: Bytes, value: Option<Bytes>, timestamp_ms: i64) {
        self.upserts.entry((topic.to_string(), partition)).or_default().insert(key, (value, timestamp_ms));
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.upserts.is_empty()
    }

    /// The records in rounds of one batch per partition, each batch under about `cap` bytes (a
    /// record larger than that goes alone): a broker takes one batch per partition per request,
    /// and refuses one over `max.message.bytes`, whatever a cycle's output adds up to.
    fn into_rounds(self, cap: usize) -> Vec<BTreeMap<(String, i32), Vec<ProduceRecord>>> {
        let mut rounds: Vec<BTreeMap<(String, i32), Vec<ProduceRecord>>> = Vec::new();
        for (tp, records) in self.into_records() {
            let (mut round, mut size) = (0, 0);
            for r in records {
                let bytes = record_bytes(&r);
                if size > 0 && size + bytes > cap {
                    round += 1;
                    size = 0;
                }
                if rounds.len() <= round {
                    rounds.push(BTreeMap::new());
                }
                rounds[round].entry(tp.clone()).or_default().push(r);
                size += bytes;
            }
        }
        rounds
    }

    fn into_records(self) -> BTreeMap<(String, i32), Vec<ProduceRecord>> {
        let mut all = self.records;
        for (tp, entries) in self.upserts {
            let list = all.entry(tp).or_default();
            list.extend(entries.into_iter().map(|(key, (value, timestamp_ms))| ProduceRecord {
                key: Some(key),
                value,
                headers: Vec::new(),
                timestamp_ms,
            }));
        }
        all
    }
}

/// A record's size in a batch, near enough (the varint framing counted generously).
fn record_bytes(r: &ProduceRecord) -> usize {
    let len = |b: &Option<Bytes>| b.as_ref().map_or(0, Bytes::len);
    24 + len(&r.key) + len(&r.value) + r.headers.iter().map(|(k, v)| 8 + k.len() + len(v)).sum::<usize>()
}

/// The state of one run.
pub(super) struct Run {
    pub(super) job: Arc<JobState>,
    pub(super) client: Client,
    pub(super) txn: Option<TxnProducer>,
    pub(super) inputs: Vec<Input>,
    pub(super) tasks: Vec<Task>,
    pub(super) global: HashMap<Bytes, Bytes>,
    pub(super) sink_partitions: i32,
    pub(super) repartition: Option<String>,
    pub(super) changelog: Option<String>,
    /// State entries a crashed run wrote past the committed changelog end, rewritten with the
    /// restored state at the first commit.
    pub(super) repairs: Vec<(usize, Bytes)>,
    pub(super) last_purge: Instant,
    /// Bytes asked per partition and fetch.
    pub(super) fetch_bytes: i32,
    /// The windowing engine's events for one record (reused).
    pub(super) events: Vec<Event<Bytes>>,
}

/// Runs the job until `control` says stop (Ok) or it fails.
pub async fn run(job: Arc<JobState>, config: ClientConfig, control: &mut watch::Receiver<Control>) -> Result<()> {
    let mut run = Run::setup(job, config).await?;
    run.job.set_running();
    loop {
        if *control.borrow_and_update() != Control::Run {
            return Ok(());
        }
        run.cycle().await?;
    }
}

impl Run {
    /// One fetch, the processing it allows, and the commit of what was processed. Answers
    /// whether there was anything to do: a cycle with nothing means every record the inputs
    /// showed has been processed and committed.
    async fn cycle(&mut self) -> Result<bool> {
        let busy = match self.poll_and_process().await? {
            Some(out) => {
                self.write(out).await?;
                self.commit_offsets().await?;
                true
            }
            None => false,
        };
        self.publish(!busy);
        if self.last_purge.elapsed() >= PURGE_INTERVAL {
            self.last_purge = Instant::now();
            self.purge_repartition().await;
        }
        Ok(busy)
    }

    /// Fetches and processes what the inputs allow; `None` when no position moved and nothing
    /// is to be written.
    async fn poll_and_process(&mut self) -> Result<Option<Outputs>> {
        // Only inputs with nothing buffered are fetched: a task waiting on one input holds at
        // most one fetch of each other, whatever their backlog.
        let positions: BTreeMap<(String, i32), i64> = self
            .inputs
            .iter()
            .filter(|i| i.buffer.is_empty())
            .map(|i| ((i.topic.clone(), i.partition), i.fetch_next))
            .collect();
        let fetched = self.client.fetch(&positions, FETCH_WAIT, self.fetch_bytes).await;
        let index: HashMap<(String, i32), usize> =
            self.inputs.iter().enumerate().map(|(n, i)| ((i.topic.clone(), i.partition), n)).collect();
        let mut reset = Vec::new();
        let mut moved = false;
        for (key, result) in fetched {
            let Some(&n) = index.get(&key) else { continue };
            let fetched = match result {
                Ok(fetched) => fetched,
                // A leader that moved or cannot be reached: the client looks it up again, and
                // this partition waits for the next cycle.
                Err(e) if e.is_retriable() => {
                    moved = true;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let input = &mut self.inputs[n];
            match fetched.error_code {
                0 => {}
                OFFSET_OUT_OF_RANGE => {
                    reset.push(key);
                    continue;
                }
                code if crate::kafka::error::code_recovery(code) != crate::kafka::error::Recovery::None => {
                    self.client.recover(&crate::kafka::Error::kafka(code, "fetch"));
                    moved = true;
                    continue;
                }
                code => {
                    return Err(Failure::retry(format!(
                        "fetching {}-{}: {}",
                        key.0,
                        key.1,
                        crate::kafka::error::code_name(code)
                    )))
                }
            }
            input.end =
                if fetched.last_stable_offset >= 0 { fetched.last_stable_offset } else { fetched.high_watermark };
            input.fresh = true;
            input.buffer.extend(fetched.records);
            input.fetch_next = input.fetch_next.max(fetched.next_offset);
        }
        if moved {
            // Not a hot loop while the cluster elects a new leader.
            tokio::time::sleep(self.client.config().retry_backoff).await;
        }
        if !reset.is_empty() {
            // auto.offset.reset = earliest, as Kafka Streams defaults.
            for (key, result) in self.client.list_offsets(&reset, OffsetSpec::Earliest).await {
                let Some(&n) = index.get(&key) else { continue };
                let start = result?;
                tracing::warn!(job = %self.job.spec.name, topic = %key.0, partition = key.1, start, "position below the log start: from the earliest offset");
                self.inputs[n].fetch_next = start;
                self.inputs[n].processed_next = start;
                self.inputs[n].buffer.clear();
            }
        }
        let before: Vec<i64> = self.inputs.iter().map(|i| i.processed_next).collect();
        let mut out = Outputs::default();
        self.write_repairs(&mut out);
        self.process(&mut out);
        let advanced = self.inputs.iter().zip(&before).any(|(i, b)| i.processed_next != *b);
        Ok((advanced || !out.is_empty()).then_some(out))
    }

    fn write_repairs(&mut self, out: &mut Outputs) {
        let Some(changelog) = self.changelog.clone() else { return };
        for (t, key) in std::mem::take(&mut self.repairs) {
            let task = &self.tasks[t];
            let value = current_entry(task, &key);
            out.upsert(&changelog, task.partition, key, value, 0);
        }
    }

    fn process(&mut self, out: &mut Outputs) {
        let spec = self.job.spec.clone();
        // Globals first: a GlobalKTable is always as new as it can be.
        for input in self.inputs.iter_mut().filter(|i| i.role == Role::Global) {
            while let Some(r) = input.buffer.pop_front() {
                input.processed_next = r.offset + 1;
                apply_table(&mut self.global, r);
            }
        }
        for n in 0..self.inputs.len() {
            if self.inputs[n].role != Role::Rekey {
                continue;
            }
            let topic = spec.sources.iter().position(|s| *s == self.inputs[n].topic).unwrap_or(0) as u16;
            let partition = self.inputs[n].partition;
            while let Some(r) = self.inputs[n].buffer.pop_front() {
                self.inputs[n].processed_next = r.offset + 1;
                self.job.counters.records_in.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.rekey(&spec, (topic, partition), r, out);
            }
        }
        for t in 0..self.tasks.len() {
            self.process_task(&spec, t, out);
            self.flush_pending(&spec, t, out);
        }
    }

    /// Encodes a task's coalesced store changes: the changelog entries, and the results the
    /// emit mode forwards to the sink.
    fn flush_pending(&mut self, spec: &JobSpec, t: usize, out: &mut Outputs) {
        let (Some(changelog), Operation::Aggregate { aggregate, windows, .. }) = (&self.changelog, &spec.operation)
        else {
            return;
        };
        let task = &mut self.tasks[t];
        for (entry, pending) in task.pending.drain() {
            if let (Some(result), StateKey::Window { key, window }) = (pending.result, &entry) {
                let out_key = record::result_key(spec.key_format, *windows, key, *window);
                let partition = record::partition_for(key, self.sink_partitions);
                let timestamp = result.map_or(pending.timestamp, |a| a.timestamp);
                let value = result.map(|a| record::result_value(*aggregate, &a));
                out.upsert(&spec.sink, partition, out_key, value, timestamp);
                self.job.counters.add_out(1);
            }
            let value = pending.state.map(|a| record::encode_agg(&a));
            out.upsert(changelog, task.partition, entry.encode(), value, pending.timestamp);
        }
        for (topic, partition) in task.seen_dirty.drain() {
            let Some(offset) = task.seen.get(&(topic, partition)) else { continue };
            let entry = StateKey::Source { topic, partition };
            out.upsert(
                changelog,
                task.partition,
                entry.encode(),
                Some(Bytes::copy_from_slice(&offset.to_be_bytes())),
                0,
            );
        }
    }

    fn rekey(&mut self, spec: &JobSpec, source: (u16, i32), r: ConsumedRecord, out: &mut Outputs) {
        let (Some(pointer), Some(topic)) = (&spec.rekey, &self.repartition) else { return };
        let value = record::parse(r.value.as_ref());
        if let Some(filter) = &spec.filter {
            match record::passes(filter, value.as_ref()) {
                Some(true) => {}
                Some(false) => return,
                None => return self.job.skip(),
            }
        }
        let Some(key) = record::rekey(pointer, value.as_ref()) else { return self.job.skip() };
        let partition = record::partition_for(&key, self.tasks.len() as i32);
        let header = record::source_header(source.0, source.1, r.offset);
        let record = ProduceRecord {
            key: Some(key),
            value: r.value,
            headers: vec![(record::SOURCE_HEADER.to_string(), Some(header))],
            timestamp_ms: r.timestamp_ms,
        };
        out.records.entry((topic.clone(), partition)).or_default().push(record);
    }

    /// Processes task `t`'s buffered records in timestamp order (table records first on a tie),
    /// stopping when an input it must wait for has nothing buffered.
    fn process_task(&mut self, spec: &JobSpec, t: usize, out: &mut Outputs) {
        let inputs = self.tasks[t].inputs.clone();
        let synchronized = inputs.len() > 1;
        loop {
            if synchronized && inputs.iter().any(|&i| self.inputs[i].behind()) {
                return;
            }
            let next = inputs
                .iter()
                .filter_map(|&i| {
                    let input = &self.inputs[i];
                    let head = input.buffer.front()?;
                    Some((head.timestamp_ms, matches!(input.role, Role::Stream { .. }), i))
                })
                .min();
            let Some((_, _, i)) = next else { return };
            let Some(r) = self.inputs[i].buffer.pop_front() else { return };
            self.inputs[i].processed_next = r.offset + 1;
            if self.inputs[i].buffer.is_empty() {
                // Its end is as old as the fetch that filled it: ask again before going past it.
                self.inputs[i].fresh = false;
            }
            match self.inputs[i].role {
                Role::Table { .. } => apply_table(&mut self.tasks[t].table, r),
                _ => {
                    if spec.rekey.is_none() {
                        self.job.counters.records_in.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    self.process_stream(spec, t, r, out);
                }
            }
        }
    }

    fn process_stream(&mut self, spec: &JobSpec, t: usize, r: ConsumedRecord, out: &mut Outputs) {
        let task = &mut self.tasks[t];
        if !matches!(spec.operation, Operation::Aggregate { .. }) {
            // An aggregation's stream time is its engine's: records it never saw (filtered,
            // skipped) must not move it, or a restart would judge lateness differently.
            task.stream_time = Some(task.stream_time.map_or(r.timestamp_ms, |s| s.max(r.timestamp_ms)));
        }
        let needs_json = (spec.rekey.is_none() && spec.filter.is_some())
            || matches!(&spec.operation, Operation::Aggregate { field: Some(_), .. })
            || matches!(&spec.operation, Operation::Join { table: Table::Global { key: Some(_), .. }, .. });
        let value = if needs_json { record::parse(r.value.as_ref()) } else { None };
        if spec.rekey.is_none() {
            if let Some(filter) = &spec.filter {
                match record::passes(filter, value.as_ref()) {
                    Some(true) => {}
                    Some(false) => return,
                    None => return self.job.skip(),
                }
            }
        }
        let counters = &self.job.counters;
        let sink = spec.sink.as_str();
        let sink_n = self.sink_partitions;
        let task_partition = task.partition;
        let partition_of = |key: Option<&Bytes>| match key {
            Some(k) => record::partition_for(k, sink_n),
            None => task_partition % sink_n,
        };
        match &spec.operation {
            Operation::Pass => {
                out.push(sink, partition_of(r.key.as_ref()), r.key, r.value, r.timestamp_ms);
                counters.add_out(1);
            }
            Operation::Join { table, left } => {
                let lookup = match table {
                    Table::Partitioned(_) | Table::Global { key: None, .. } => r.key.clone(),
                    Table::Global { key: Some(pointer), .. } => record::rekey(pointer, value.as_ref()),
                };
                // Kafka Streams drops stream records with a null key or value before a join.
                let (Some(lookup), Some(_)) = (lookup, r.value.as_ref()) else { return self.job.skip() };
                let right = match table {
                    Table::Partitioned(_) => task.table.get(&lookup),
                    Table::Global { .. } => self.global.get(&lookup),
                };
                if right.is_none() && !left {
                    return;
                }
                let joined = record::join_value(r.value.as_ref(), right);
                out.push(sink, partition_of(r.key.as_ref()), r.key, Some(joined), r.timestamp_ms);
                counters.add_out(1);
            }
            Operation::Aggregate { aggregate, field, emit_final, .. } => {
                if spec.rekey.is_some() {
                    if let Some((source, offset)) = record::source_of(&r.headers) {
                        if task.seen.get(&source).is_some_and(|&seen| offset <= seen) {
                            // Written twice by a re-keying replayed after a crash: counted once.
                            counters.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            return;
                        }
                        task.seen.insert(source, offset);
                        task.seen_dirty.insert(source);
                    }
                }
                let (Some(key), Some(_)) = (r.key.as_ref(), r.value.as_ref()) else { return self.job.skip() };
                let Some(number) = record::number(*aggregate, field.as_deref(), value.as_ref()) else {
                    return self.job.skip();
                };
                let Some(engine) = task.engine.as_mut() else { return };
                let events = &mut self.events;
                events.clear();
                if !engine.process(key.clone(), r.timestamp_ms, number, events) {
                    counters.late.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                // Coalesced per store entry until the cycle ends, and encoded once then.
                for event in events.drain(..) {
                    let (entry, state, result) = match event {
                        Event::Put { key, window, agg } => {
                            (StateKey::Window { key, window }, Some(agg), (!emit_final).then_some(Some(agg)))
                        }
                        Event::Delete { key, window } => {
                            (StateKey::Window { key, window }, None, (!emit_final).then_some(None))
                        }
                        Event::Close { key, window, agg } => {
                            (StateKey::Window { key, window }, None, emit_final.then_some(Some(agg)))
                        }
                        Event::PointPut { key, timestamp, agg } => {
                            (StateKey::Point { key, timestamp }, Some(agg), None)
                        }
                        Event::PointDelete { key, timestamp } => (StateKey::Point { key, timestamp }, None, None),
                    };
                    let pending =
                        task.pending.entry(entry).or_insert(Pending { state, result: None, timestamp: r.timestamp_ms });
                    pending.state = state;
                    pending.timestamp = r.timestamp_ms;
                    if result.is_some() {
                        pending.result = result;
                    }
                }
                task.stream_time = engine.stream_time();
            }
        }
    }

    /// Writes a cycle's outputs: acknowledged by the ISR at least once; inside the open
    /// transaction with exactly_once_v2 (aborted on any error).
    async fn write(&mut self, out: Outputs) -> Result<()> {
        for round in out.into_rounds(BATCH_BYTES) {
            self.write_round(&round).await?;
        }
        Ok(())
    }

    /// One batch per partition.
    async fn write_round(&mut self, records: &BTreeMap<(String, i32), Vec<ProduceRecord>>) -> Result<()> {
        if let Some(txn) = self.txn.as_mut() {
            if let Err(e) = txn.send(records).await {
                let _ = txn.abort().await;
                return Err(Failure::retry(format!("transaction aborted: {e}")));
            }
            return Ok(());
        }
        let mut encoded = BTreeMap::new();
        for (key, batch) in records {
            if !batch.is_empty() {
                encoded
                    .insert(key.clone(), crate::kafka::records::encode_batch(batch, crate::kafka::Compression::None)?);
            }
        }
        for ((topic, partition), result) in self.client.produce_encoded(&encoded, -1, None).await {
            let base = result.map_err(|e| Failure::retry(format!("producing to {topic}-{partition}: {e}")))?;
            if Some(&topic) == self.changelog.as_ref() {
                let count = records.get(&(topic.clone(), partition)).map_or(0, Vec::len) as i64;
                if let Some(task) = self.tasks.iter_mut().find(|t| t.partition == partition) {
                    task.changelog_end = Some(base + count);
                }
            }
        }
        Ok(())
    }

    /// Commits the processed positions in group `<name>` (with exactly_once_v2: adds them to the
    /// transaction and commits it).
    async fn commit_offsets(&mut self) -> Result<()> {
        let group = self.job.spec.name.clone();
        let offsets = self.offsets();
        if let Some(txn) = self.txn.as_mut() {
            if let Err(e) = txn.finish(&group, &offsets).await {
                let _ = txn.abort().await;
                return Err(Failure::retry(format!("transaction aborted: {e}")));
            }
            return Ok(());
        }
        self.client.offset_commit_with_metadata(&group, -1, "", &offsets).await?;
        Ok(())
    }

    /// The committed positions of every input but the GlobalKTable's, with the task's metadata.
    fn offsets(&self) -> BTreeMap<(String, i32), (i64, Option<String>)> {
        self.inputs
            .iter()
            .filter(|i| i.role != Role::Global)
            .map(|i| {
                let meta = match i.role {
                    Role::Stream { task } | Role::Table { task } => {
                        let t = &self.tasks[task];
                        let changelog_end = if self.txn.is_some() { None } else { t.changelog_end };
                        CommitMeta { stream_time: t.stream_time, changelog_end }
                    }
                    _ => CommitMeta::default(),
                };
                ((i.topic.clone(), i.partition), (i.processed_next, Some(meta.encode())))
            })
            .collect()
    }

    /// Deletes what the repartition topic holds below the committed positions (Kafka Streams
    /// purges its repartition topics the same way).
    async fn purge_repartition(&self) {
        let Some(topic) = &self.repartition else { return };
        let offsets: BTreeMap<(String, i32), i64> = self
            .inputs
            .iter()
            .filter(|i| &i.topic == topic)
            .map(|i| ((i.topic.clone(), i.partition), i.processed_next))
            .collect();
        for (key, result) in self.client.delete_records(&offsets).await {
            if let Err(e) = result {
                tracing::debug!(topic = %key.0, partition = key.1, error = %e, "repartition purge failed");
            }
        }
    }

    /// Hands the pages the run's live figures.
    fn publish(&self, idle: bool) {
        let stream_time = self.tasks.iter().map(|t| (t.partition, t.stream_time)).collect();
        let open_windows = self.tasks.iter().filter_map(|t| t.engine.as_ref()).map(Engine::open_windows).sum();
        self.job.publish(stream_time, open_windows, idle);
    }
}

/// Applies a table record: the latest value per key, a tombstone deletes.
pub(super) fn apply_table(table: &mut HashMap<Bytes, Bytes>, r: ConsumedRecord) {
    let Some(key) = r.key else { return };
    match r.value {
        Some(value) => {
            table.insert(key, value);
        }
        None => {
            table.remove(&key);
        }
    }
}

#[cfg(test)]
#[path = "job_tests.rs"]
mod tests;
