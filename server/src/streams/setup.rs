//! Setting up a run of a stream job: its tasks and inputs from the topics' partition counts (a
//! KTable join checks co-partitioning first), the internal topics (repartition, compacted
//! changelog) and the sink created when missing, then the restore: positions and stream times
//! from the group's commits, the window store from its changelog (at least once, up to the
//! changelog end the last commit recorded; what a crashed run wrote past it is remembered for
//! repair), the KTable up to its committed position, the GlobalKTable in full.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::job::{apply_table, Failure, Input, Result, Role, Run, Task, PARTITION_FETCH_BYTES};
use super::record::{self, CommitMeta, StateKey};
use super::spec::{Operation, Table};
use super::window::Engine;
use super::JobState;
use crate::kafka::{Client, ClientConfig, ConsumedRecord, NewTopic, OffsetSpec, TxnProducer};

/// TOPIC_ALREADY_EXISTS.
const TOPIC_ALREADY_EXISTS: i16 = 36;

impl Run {
    pub(super) async fn setup(job: Arc<JobState>, mut config: ClientConfig) -> Result<Run> {
        let spec = job.spec.clone();
        config.client_id = format!("warren-streams-{}", spec.name);
        // read_committed either way: at least once too, a job should never act on records of
        // another producer's transaction that may yet abort, nor restore a changelog's.
        config.read_committed = true;
        let client = Client::new(config);
        // Fencing first: a previous instance's open transaction is aborted before anything is read.
        let txn = if spec.exactly_once {
            Some(TxnProducer::init(client.clone(), &format!("{}-warren", spec.name), Duration::from_secs(60)).await?)
        } else {
            None
        };
        let table = match &spec.operation {
            Operation::Join { table, .. } => Some(table.clone()),
            _ => None,
        };
        let mut wanted: Vec<&str> = spec.sources.iter().map(String::as_str).collect();
        if let Some(t) = &table {
            wanted.push(t.topic());
        }
        let metadata = client.metadata(Some(&wanted)).await?;
        let mut counts = BTreeMap::new();
        let mut missing = Vec::new();
        for topic in &wanted {
            match metadata.topics.get(*topic).filter(|t| t.error_code == 0 && !t.partitions.is_empty()) {
                Some(t) => {
                    counts.insert(topic.to_string(), t.partitions.len() as i32);
                }
                None => missing.push(*topic),
            }
        }
        if !missing.is_empty() {
            return Err(Failure::retry(format!("Missing source topics: [{}]", missing.join(", "))));
        }
        let source_max = spec.sources.iter().filter_map(|t| counts.get(t)).copied().max().unwrap_or(1);
        let task_count = match &table {
            Some(Table::Partitioned(t)) => {
                let table_n = counts.get(t).copied().unwrap_or(0);
                if spec.rekey.is_none() && spec.sources.iter().any(|s| counts.get(s) != Some(&table_n)) {
                    let mut topics = spec.sources.clone();
                    topics.push(t.clone());
                    return Err(Failure {
                        fatal: true,
                        message: format!("Invalid topology: Topics not co-partitioned: [{}]", topics.join(",")),
                    });
                }
                table_n
            }
            _ => source_max,
        };
        let repartition = spec.repartition_topic();
        let changelog = spec.changelog_topic();
        if let Some(t) = &repartition {
            // Purged by the job itself; records keep their own timestamps, so time retention
            // would delete what a lagging task has yet to read (as Kafka Streams sets it too).
            let configs = [("retention.ms", "-1"), ("message.timestamp.type", "CreateTime")];
            ensure_topic(&client, t, task_count, &configs, true).await?;
        }
        if let Some(t) = &changelog {
            ensure_topic(&client, t, task_count, &[("cleanup.policy", "compact")], true).await?;
        }
        ensure_topic(&client, &spec.sink, task_count, &[], false).await?;
        let sink_partitions = client
            .metadata(Some(&[spec.sink.as_str()]))
            .await?
            .topics
            .get(&spec.sink)
            .map_or(0, |t| t.partitions.len() as i32);
        if sink_partitions == 0 {
            return Err(Failure::retry(format!("sink topic '{}' has no partitions", spec.sink)));
        }

        let mut inputs = Vec::new();
        let mut tasks: Vec<Task> = (0..task_count)
            .map(|p| Task {
                partition: p,
                pending: HashMap::new(),
                seen: HashMap::new(),
                seen_dirty: std::collections::HashSet::new(),
                inputs: Vec::new(),
                engine: match &spec.operation {
                    Operation::Aggregate { windows, .. } => Some(Engine::new(*windows)),
                    _ => None,
                },
                table: HashMap::new(),
                stream_time: None,
                changelog_end: None,
                committed: false,
            })
            .collect();
        let add = |inputs: &mut Vec<Input>, topic: &str, partition: i32, role: Role| {
            inputs.push(Input {
                topic: topic.to_string(),
                partition,
                role,
                buffer: VecDeque::new(),
                fetch_next: 0,
                processed_next: 0,
                end: 0,
                fresh: false,
            });
            inputs.len() - 1
        };
        for source in &spec.sources {
            for p in 0..counts.get(source).copied().unwrap_or(0) {
                match &repartition {
                    Some(_) => {
                        add(&mut inputs, source, p, Role::Rekey);
                    }
                    None => {
                        let i = add(&mut inputs, source, p, Role::Stream { task: p as usize });
                        tasks[p as usize].inputs.push(i);
                    }
                }
            }
        }
        if let Some(t) = &repartition {
            for p in 0..task_count {
                let i = add(&mut inputs, t, p, Role::Stream { task: p as usize });
                tasks[p as usize].inputs.push(i);
            }
        }
        match &table {
            Some(Table::Partitioned(t)) => {
                for p in 0..task_count {
                    let i = add(&mut inputs, t, p, Role::Table { task: p as usize });
                    tasks[p as usize].inputs.push(i);
                }
            }
            Some(Table::Global { topic, .. }) => {
                for p in 0..counts.get(topic).copied().unwrap_or(0) {
                    add(&mut inputs, topic, p, Role::Global);
                }
            }
            None => {}
        }

        let mut run = Run {
            job,
            client,
            txn,
            inputs,
            tasks,
            global: HashMap::new(),
            sink_partitions,
            repartition,
            changelog,
            repairs: Vec::new(),
            last_purge: Instant::now(),
            fetch_bytes: PARTITION_FETCH_BYTES,
            events: Vec::new(),
        };
        run.restore().await?;
        Ok(run)
    }

    /// Positions from the group's commits (the earliest offset where none), stream times, the
    /// window store from its changelog, the KTable up to its committed offset, the GlobalKTable
    /// in full.
    async fn restore(&mut self) -> Result<()> {
        let spec = self.job.spec.clone();
        let committed = self.client.offset_fetch_with_metadata(&spec.name, true).await?;
        let keys: Vec<(String, i32)> = self.inputs.iter().map(|i| (i.topic.clone(), i.partition)).collect();
        let earliest = self.client.list_offsets(&keys, OffsetSpec::Earliest).await;
        let mut metas: BTreeMap<usize, Vec<CommitMeta>> = BTreeMap::new();
        for input in &mut self.inputs {
            let key = (input.topic.clone(), input.partition);
            let start = match earliest.get(&key) {
                Some(Ok(o)) => *o,
                Some(Err(e)) => return Err(Failure::retry(e.to_string())),
                None => 0,
            };
            let position = match (input.role, committed.get(&key)) {
                (Role::Global, _) | (_, None) => start,
                (role, Some((offset, meta))) => {
                    if let Role::Stream { task } | Role::Table { task } = role {
                        metas.entry(task).or_default().push(CommitMeta::decode(meta));
                    }
                    (*offset).max(start)
                }
            };
            input.fetch_next = position;
            input.processed_next = position;
        }
        for (task, list) in &metas {
            self.tasks[*task].committed = true;
            self.tasks[*task].stream_time = list.iter().filter_map(|m| m.stream_time).max();
            self.tasks[*task].changelog_end = list.iter().filter_map(|m| m.changelog_end).max();
        }
        // The KTable as of the committed position; the GlobalKTable up to its end.
        for i in 0..self.inputs.len() {
            let (topic, partition, role, until) = {
                let input = &self.inputs[i];
                (input.topic.clone(), input.partition, input.role, input.processed_next)
            };
            match role {
                Role::Table { task } => {
                    let from = earliest.get(&(topic.clone(), partition)).and_then(|r| r.as_ref().ok()).copied();
                    let table = &mut self.tasks[task].table;
                    read_partition(&self.client, &topic, partition, from.unwrap_or(0), Some(until), |r| {
                        apply_table(table, r)
                    })
                    .await?;
                }
                Role::Global => {
                    let global = &mut self.global;
                    let end = read_partition(&self.client, &topic, partition, until, None, |r| apply_table(global, r))
                        .await?;
                    self.inputs[i].fetch_next = end;
                    self.inputs[i].processed_next = end;
                }
                _ => {}
            }
        }
        if let Some(changelog) = self.changelog.clone() {
            self.restore_changelog(&changelog).await?;
        }
        Ok(())
    }

    async fn restore_changelog(&mut self, changelog: &str) -> Result<()> {
        let exactly_once = self.job.spec.exactly_once;
        for t in 0..self.tasks.len() {
            let partition = self.tasks[t].partition;
            let start = self
                .client
                .list_offsets(&[(changelog.to_string(), partition)], OffsetSpec::Earliest)
                .await
                .into_values()
                .next()
                .transpose()?
                .unwrap_or(0);
            // Exactly once: the committed transactions are the state. At least once: the state as
            // of the committed offsets; entries written after that commit are remembered to
            // repair. A task that never committed starts empty; one whose commits say nothing of
            // the changelog (written exactly once, or moved by an offset reset) takes it whole.
            let task = &self.tasks[t];
            let bound = match (exactly_once, task.committed, task.changelog_end) {
                (true, _, _) => None,
                (false, false, _) => Some(0),
                (false, true, Some(end)) => Some(end),
                (false, true, None) => {
                    tracing::warn!(job = %self.job.spec.name, partition, "the committed offsets carry no changelog position: restoring the whole changelog");
                    None
                }
            };
            // Applied as read: memory holds the state, never the changelog.
            let task = &mut self.tasks[t];
            let repairs = &mut self.repairs;
            let mut corrupt = 0usize;
            let end = read_partition(&self.client, changelog, partition, start, None, |r| {
                let Some(key) = r.key else { return };
                if bound.is_some_and(|b| r.offset >= b) {
                    repairs.push((t, key));
                } else if !restore_entry(task, &key, r.value.as_deref()) {
                    corrupt += 1;
                }
            })
            .await?;
            let task = &mut self.tasks[t];
            if corrupt > 0 {
                tracing::warn!(job = %self.job.spec.name, partition, corrupt, "skipped changelog entries that do not decode");
            }
            if let (Some(time), Some(engine)) = (task.stream_time, task.engine.as_mut()) {
                engine.restore_stream_time(time);
            }
            task.changelog_end = Some(end);
        }
        Ok(())
    }
}

/// Applies one changelog entry to a task's store; false when it does not decode.
fn restore_entry(task: &mut Task, key: &[u8], value: Option<&[u8]>) -> bool {
    let Some(state) = StateKey::decode(key) else { return false };
    if let StateKey::Source { topic, partition } = state {
        match value.map(<[u8; 8]>::try_from) {
            Some(Ok(bytes)) => task.seen.insert((topic, partition), i64::from_be_bytes(bytes)),
            Some(Err(_)) => return false,
            None => task.seen.remove(&(topic, partition)),
        };
        return true;
    }
    let Some(engine) = task.engine.as_mut() else { return false };
    let agg = match value {
        Some(v) => match record::decode_agg(v) {
            Some(agg) => Some(agg),
            None => return false,
        },
        None => None,
    };
    match (state, agg) {
        (StateKey::Window { key, window }, Some(agg)) => engine.restore_window(key, window, agg),
        (StateKey::Window { key, window }, None) => engine.restore_window_delete(&key, window),
        (StateKey::Point { key, timestamp }, Some(agg)) => engine.restore_point(key, timestamp, agg),
        (StateKey::Point { key, timestamp }, None) => engine.restore_point_delete(&key, timestamp),
        (StateKey::Source { .. }, _) => {}
    }
    true
}

/// A task's current value for a changelog key (None: not held).
pub(super) fn current_entry(task: &Task, key: &[u8]) -> Option<Bytes> {
    let engine = task.engine.as_ref()?;
    match StateKey::decode(key)? {
        StateKey::Window { key, window } => engine.window(&key, window).map(|a| record::encode_agg(&a)),
        StateKey::Point { key, timestamp } => engine.point(&key, timestamp).map(|a| record::encode_agg(&a)),
        StateKey::Source { topic, partition } => {
            task.seen.get(&(topic, partition)).map(|o| Bytes::copy_from_slice(&o.to_be_bytes()))
        }
    }
}

/// Reads `topic`-`partition` from `from` up to `until` (exclusive; the high watermark when
/// `None`, as it stood when reading began), handing each record to `each`. Answers where
/// reading stopped.
async fn read_partition(
    client: &Client,
    topic: &str,
    partition: i32,
    from: i64,
    until: Option<i64>,
    mut each: impl FnMut(ConsumedRecord),
) -> Result<i64> {
    let key = (topic.to_string(), partition);
    let mut position = from;
    let mut end = until;
    loop {
        if end.is_some_and(|e| position >= e) {
            return Ok(position);
        }
        let positions = BTreeMap::from([(key.clone(), position)]);
        let fetched = client.fetch(&positions, Duration::ZERO, PARTITION_FETCH_BYTES).await;
        let fetched = fetched
            .into_values()
            .next()
            .ok_or_else(|| Failure::retry(format!("no answer fetching {topic}-{partition}")))??;
        if fetched.error_code != 0 {
            return Err(Failure::retry(format!(
                "reading {topic}-{partition}: {}",
                crate::kafka::error::code_name(fetched.error_code)
            )));
        }
        let stop = *end.get_or_insert(fetched.high_watermark);
        for r in fetched.records {
            if r.offset >= stop {
                break;
            }
            each(r);
        }
        if fetched.next_offset <= position {
            // Nothing more below the end (a read_committed fetch stops at the last stable offset).
            return Ok(position);
        }
        position = fetched.next_offset.min(stop.max(position));
    }
}

/// Creates `topic` with `partitions` unless it exists; an internal topic must have exactly that
/// many partitions.
async fn ensure_topic(
    client: &Client,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
    internal: bool,
) -> Result<()> {
    let new = NewTopic {
        name: topic.to_string(),
        partitions: Some(partitions),
        replication_factor: None,
        configs: configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    match client.create_topic(&new).await {
        Ok(()) => {}
        Err(e) if e.code() == Some(TOPIC_ALREADY_EXISTS) => {}
        Err(e) => return Err(Failure::retry(format!("creating topic '{topic}': {e}"))),
    }
    if internal {
        let metadata = client.metadata(Some(&[topic])).await?;
        let found = metadata.topics.get(topic).map_or(0, |t| t.partitions.len() as i32);
        if found == 0 {
            // A broker whose metadata has not caught up with the creation yet.
            return Err(Failure::retry(format!("topic '{topic}' has no partitions yet")));
        }
        if found != partitions {
            return Err(Failure {
                fatal: true,
                message: format!("internal topic '{topic}' has {found} partitions where the job needs {partitions}"),
            });
        }
    }
    Ok(())
}
