//! One replica of one partition on one logical broker: its log plus the replica state Kafka keeps
//! beside it (role, leader epoch, ISR, follower positions, high watermark, producer sequences).
//!
//! Invariants, asserted where they change: `log_start_offset <= high_watermark <= log_end_offset`;
//! the high watermark never moves backwards while this replica leads; on a leader it is the
//! minimum log end offset over the ISR. Offsets and counters a reader needs without the lock are
//! mirrored in atomics; everything else changes under one mutex per replica.

mod follower;
pub mod producer;
mod txn;
use txn::{rebuild_producer_state, track_batch};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::{watch, Notify};

use crate::log::batch::{self, BatchHeader};
use crate::log::records::RecordError;
use crate::log::{Log, LogConfig, LogError, OpenState, ReadPlan, RecoveryReport};
use producer::{ProducerStates, SequenceCheck};

use crate::cluster::maintenance::now_ms;

/// Whether this replica leads its partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower {
        leader: i32,
    },
    /// The partition has no leader (all ISR members down) or this replica is being removed.
    Offline,
}

/// What a leader knows of one follower.
#[derive(Debug, Clone, Copy)]
struct FollowerState {
    log_end_offset: i64,
    /// Last time the follower had fetched up to the leader's log end offset.
    caught_up_at: Instant,
}

/// Leadership, as the controller assigns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// The highest high watermark any replica of the partition has published. Every ISR member
    /// holds the records below it, so a replica that becomes leader starts its high watermark
    /// there instead of at its own, which trails the old leader's by a fetch: consumers never
    /// see the high watermark go backwards across a leader change.
    pub committed: i64,
}

#[derive(Debug)]
struct Inner {
    log: Log,
    role: Role,
    leader_epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    followers: HashMap<i32, FollowerState>,
    producers: ProducerStates,
    min_insync_replicas: usize,
    /// `cleanup.policy` includes `compact`.
    compacted: bool,
    /// `cleanup.policy` includes `delete` (DeleteRecords is refused otherwise, as in Kafka).
    deletable: bool,
    /// Counts the times this replica became a follower (of a new leader, or again after being
    /// offline or leading): each is a new fetch session that starts with a divergence check.
    follower_sessions: u64,
    /// The replica's directory (for the transactions flag).
    dir: PathBuf,
    /// The log has held transactional batches (the flag file exists): its transaction state is
    /// rebuilt from the whole log at open and after a truncation.
    has_transactions: bool,
}

/// Present in a replica's directory once its log has held a transactional batch.
pub const TRANSACTIONS_FLAG: &str = "transactions";

/// Which replica a `Partition` is: topic, partition index and the broker holding it.
#[derive(Debug, Clone)]
pub struct ReplicaOf {
    pub topic: Arc<str>,
    pub index: i32,
    pub broker_id: i32,
}

/// Why a leader refused an append: Kafka's code and a message for the client (Produce v8+ carries
/// it) and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ResponseError,
    pub message: String,
}

impl From<ResponseError> for Refusal {
    fn from(code: ResponseError) -> Refusal {
        Refusal { code, message: String::new() }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl Refusal {
    pub fn new(code: ResponseError, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into() }
    }
}

/// A follower's assignment as a fetcher saw it: the leader, its epoch, and which time this
/// replica became a follower (a new session starts with a divergence check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Following {
    pub leader: i32,
    pub epoch: i32,
    pub session: u64,
}

/// Result of a leader append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: i64,
    /// Offset one past the last record of the request: acks=all waits for the HW to reach it.
    pub next_offset: i64,
    pub log_start_offset: i64,
    /// The leader epoch the records were appended under: acks=all counts only a high watermark
    /// reached in that epoch (see [`Partition::await_replication`]).
    pub leader_epoch: i32,
}

/// A consumer's read, planned under the replica lock with the offsets it was bounded by.
#[derive(Debug)]
pub struct ConsumerRead {
    pub plan: Option<ReadPlan>,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    /// read_committed only: the aborted transactions the read may hold, (producer id, first offset).
    pub aborted: Option<Vec<(i64, i64)>>,
}

/// The leader changed its ISR: the controller must record it (`Cluster::record_isr` reads the
/// new ISR from the leader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct IsrChanged;

#[derive(Debug)]
pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    pub broker_id: i32,
    inner: Mutex<Inner>,
    high_watermark: AtomicI64,
    /// The leader epoch while this replica leads, -1 otherwise: acks=all waiters read it
    /// without the lock, and are woken (through `hw_tx`) when it changes.
    leading_epoch: AtomicI32,
    log_end_offset: AtomicI64,
    log_start_offset: AtomicI64,
    hw_tx: watch::Sender<i64>,
    /// Shared with every replica of the cluster: woken on each append and HW move, so long-poll
    /// fetches and replica fetchers wait without polling.
    activity: Arc<Notify>,
}

impl Partition {
    /// Opens (creating if needed) the replica's log in `dir` and recovers it if needed.
    /// The replica starts offline; the controller assigns its role.
    pub fn open(
        replica: ReplicaOf,
        dir: &Path,
        config: LogConfig,
        state: OpenState,
        high_watermark: i64,
        activity: Arc<Notify>,
    ) -> Result<(Partition, RecoveryReport), LogError> {
        let (log, report) = Log::open(dir, config, state)?;
        let has_transactions = dir.join(TRANSACTIONS_FLAG).exists();
        let producers = rebuild_producer_state(&log, has_transactions)?;
        let hw = high_watermark.clamp(log.log_start_offset(), log.log_end_offset());
        let ReplicaOf { topic, index, broker_id } = replica;
        let partition = Partition {
            topic,
            index,
            broker_id,
            high_watermark: AtomicI64::new(hw),
            leading_epoch: AtomicI32::new(-1),
            log_end_offset: AtomicI64::new(log.log_end_offset()),
            log_start_offset: AtomicI64::new(log.log_start_offset()),
            hw_tx: watch::channel(hw).0,
            activity,
            inner: Mutex::new(Inner {
                log,
                role: Role::Offline,
                leader_epoch: -1,
                replicas: Vec::new(),
                isr: Vec::new(),
                followers: HashMap::new(),
                producers,
                min_insync_replicas: 1,
                compacted: false,
                deletable: true,
                follower_sessions: 0,
                dir: dir.to_path_buf(),
                has_transactions,
            }),
        };
        Ok((partition, report))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a bug panicked mid-update; the state is still the best we have.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset.load(Ordering::Acquire)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::Acquire)
    }

    pub fn role(&self) -> Role {
        self.lock().role
    }

    pub fn leader_epoch(&self) -> i32 {
        self.lock().leader_epoch
    }

    pub fn isr(&self) -> Vec<i32> {
        self.lock().isr.clone()
    }

    /// Whether the ISR is smaller than `min.insync.replicas` (acks=all cannot succeed).
    pub fn isr_below_min(&self) -> bool {
        let inner = self.lock();
        inner.isr.len() < inner.min_insync_replicas
    }

    pub fn size_bytes(&self) -> u64 {
        self.lock().log.size_bytes()
    }

    pub fn set_min_insync_replicas(&self, min: usize) {
        self.lock().min_insync_replicas = min.max(1);
    }

    /// Applies a topic's `cleanup.policy` (`delete`, `compact` or both).
    pub fn set_cleanup_policy(&self, policy: &str) {
        let mut inner = self.lock();
        inner.compacted = policy.contains("compact");
        inner.deletable = policy.contains("delete");
    }

    /// How far a stored batch may inflate when a reader decodes its records.
    pub fn decode_limit(&self) -> usize {
        self.lock().log.config().max_uncompressed_batch_bytes
    }

    pub fn set_log_config(&self, config: LogConfig) {
        self.lock().log.set_config(config);
    }

    /// A receiver that sees every high-watermark change.
    pub fn watch_high_watermark(&self) -> watch::Receiver<i64> {
        self.hw_tx.subscribe()
    }

    /// Applies the controller's decision for this partition.
    pub fn apply_assignment(&self, assignment: &Assignment) {
        let mut inner = self.lock();
        self.apply_assignment_locked(&mut inner, assignment);
        let leading = if inner.role == Role::Leader { inner.leader_epoch } else { -1 };
        if self.leading_epoch.swap(leading, Ordering::AcqRel) != leading {
            // Leadership moved: acks=all waits from the old epoch answer now, not at their
            // deadline (a client's in-flight requests would otherwise stall the partition).
            self.hw_tx.send_modify(|_| {});
        }
    }

    fn apply_assignment_locked(&self, inner: &mut Inner, assignment: &Assignment) {
        inner.leader_epoch = assignment.leader_epoch;
        inner.replicas = assignment.replicas.clone();
        inner.isr = assignment.isr.clone();
        if assignment.leader == self.broker_id {
            let now = Instant::now();
            let leo = inner.log.log_end_offset();
            let was_leader = inner.role == Role::Leader;
            inner.role = Role::Leader;
            if !was_leader {
                // A new leader knows nothing of its followers yet: they start at the committed
                // offset and must fetch to prove more.
                let hw = self.high_watermark().max(assignment.committed.min(leo));
                if assignment.committed > leo {
                    tracing::warn!(
                        topic = %self.topic,
                        partition = self.index,
                        broker = self.broker_id,
                        committed = assignment.committed,
                        log_end_offset = leo,
                        "new leader's log ends below the committed offset (records lost below the high watermark)"
                    );
                }
                if hw > self.high_watermark() {
                    self.set_high_watermark(hw);
                }
                inner.followers = assignment
                    .replicas
                    .iter()
                    .filter(|r| **r != self.broker_id)
                    .map(|r| (*r, FollowerState { log_end_offset: hw.min(leo), caught_up_at: now }))
                    .collect();
            }
            self.maybe_advance_hw(inner);
        } else if assignment.leader < 0 {
            inner.role = Role::Offline;
        } else {
            let role = Role::Follower { leader: assignment.leader };
            if inner.role != role {
                inner.follower_sessions += 1;
            }
            inner.role = role;
            inner.followers.clear();
        }
    }

    /// Validates a client's batches as Kafka's validator does, before anything is appended: whole
    /// batches with good CRCs, each within `max.message.bytes`, each holding exactly the records
    /// it declares, well formed, after a decompression bounded by the log's
    /// `max_uncompressed_batch_bytes`.
    fn validate_client_batches(&self, records: &[u8]) -> Result<Vec<(usize, BatchHeader)>, Refusal> {
        let (max_message_bytes, limit) = {
            let inner = self.lock();
            let config = inner.log.config();
            (config.max_message_bytes, config.max_uncompressed_batch_bytes)
        };
        let headers =
            batch::split_batches(records).map_err(|e| Refusal::new(ResponseError::CorruptMessage, e.to_string()))?;
        if headers.is_empty() {
            return Err(Refusal::new(ResponseError::InvalidRecord, "no record batch"));
        }
        for (pos, header) in &headers {
            if header.total_len() > max_message_bytes {
                return Err(Refusal::new(
                    ResponseError::MessageTooLarge,
                    format!(
                        "a batch of {} bytes is larger than max.message.bytes ({max_message_bytes})",
                        header.total_len()
                    ),
                ));
            }
            if header.is_control() {
                return Err(Refusal::new(ResponseError::InvalidRecord, "clients may not write control batches"));
            }
            if !header.is_sane_from_client() {
                return Err(Refusal::new(
                    ResponseError::InvalidRecord,
                    format!(
                        "a batch declares {} records over offset delta {}",
                        header.records_count, header.last_offset_delta
                    ),
                ));
            }
            let batch = &records[*pos..*pos + header.total_len()];
            crate::log::records::validate_records(batch, header, limit).map_err(|e| {
                let code = match e {
                    RecordError::TooLarge { .. } => ResponseError::MessageTooLarge,
                    RecordError::Decompress { .. } | RecordError::UnknownCodec(_) => ResponseError::CorruptMessage,
                    _ => ResponseError::InvalidRecord,
                };
                Refusal::new(code, e.to_string())
            })?;
        }
        Ok(headers)
    }

    /// Validates and appends a client's batches as leader: all of them or none.
    pub fn append_as_leader(&self, records: &[u8], acks: i16) -> Result<Appended, Refusal> {
        let headers = self.validate_client_batches(records)?;
        let mut inner = self.lock();
        if inner.role != Role::Leader {
            return Err(ResponseError::NotLeaderOrFollower.into());
        }
        if acks == -1 && inner.isr.len() < inner.min_insync_replicas {
            return Err(Refusal::new(
                ResponseError::NotEnoughReplicas,
                format!(
                    "the ISR has {} of the {} replicas min.insync.replicas asks for",
                    inner.isr.len(),
                    inner.min_insync_replicas
                ),
            ));
        }
        let mut fresh = Vec::with_capacity(headers.len());
        let mut duplicate_of = None;
        for (pos, header) in &headers {
            match inner.producers.check(header) {
                SequenceCheck::Append => fresh.push((*pos, *header)),
                SequenceCheck::Duplicate { first_offset } => {
                    duplicate_of.get_or_insert(first_offset);
                }
                SequenceCheck::OutOfOrder { expected, got } => {
                    return Err(Refusal::new(
                        ResponseError::OutOfOrderSequenceNumber,
                        format!("sequence {got}, expected {expected}"),
                    ))
                }
                SequenceCheck::StaleEpoch { current, got } => {
                    return Err(Refusal::new(
                        ResponseError::InvalidProducerEpoch,
                        format!("producer epoch {got} is older than {current}"),
                    ))
                }
                SequenceCheck::InvalidTxnState => {
                    return Err(Refusal::new(
                        ResponseError::InvalidTxnState,
                        "a non-transactional batch from a producer with a transaction open on this partition",
                    ))
                }
            }
        }
        if fresh.iter().any(|(_, h)| h.is_transactional()) {
            Self::flag_transactions(&mut inner)
                .map_err(|e| Refusal::new(ResponseError::KafkaStorageError, format!("the transactions flag: {e}")))?;
        }
        if fresh.is_empty() {
            let base_offset = duplicate_of.unwrap_or(-1);
            return Ok(Appended {
                base_offset,
                next_offset: base_offset + 1,
                log_start_offset: inner.log.log_start_offset(),
                leader_epoch: inner.leader_epoch,
            });
        }
        // Rebase the fresh batches into one contiguous buffer we may stamp.
        let mut owned = Vec::with_capacity(fresh.iter().map(|(_, h)| h.total_len()).sum());
        let mut rebased = Vec::with_capacity(fresh.len());
        for (pos, header) in &fresh {
            rebased.push((owned.len(), *header));
            owned.extend_from_slice(&records[*pos..*pos + header.total_len()]);
        }
        let epoch = inner.leader_epoch.max(0);
        let info = inner.log.append_as_leader(&mut owned, &rebased, epoch).map_err(|e| {
            tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed");
            Refusal::new(ResponseError::KafkaStorageError, format!("the append failed: {e}"))
        })?;
        let mut offset = info.first_offset;
        for (_, header) in &rebased {
            let mut stamped = *header;
            stamped.base_offset = offset;
            inner.producers.record(&stamped, now_ms());
            offset = stamped.next_offset();
        }
        self.log_end_offset.store(inner.log.log_end_offset(), Ordering::Release);
        self.maybe_advance_hw(&mut inner);
        self.activity.notify_waiters();
        Ok(Appended {
            base_offset: info.first_offset,
            next_offset: info.last_offset + 1,
            log_start_offset: inner.log.log_start_offset(),
            leader_epoch: inner.leader_epoch,
        })
    }

    /// Plans a consumer read: whole batches from the one containing `offset`, below the high
    /// watermark, or below the last stable offset for read_committed, which also gets the aborted
    /// transactions the read may hold.
    pub fn plan_consumer_read(
        &self,
        offset: i64,
        max_bytes: usize,
        read_committed: bool,
    ) -> Result<ConsumerRead, ResponseError> {
        let mut inner = self.lock();
        if inner.role != Role::Leader {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        let hw = self.high_watermark();
        let lso = Self::last_stable_locked(&mut inner, hw);
        let bound = if read_committed { lso } else { hw };
        let aborted = read_committed.then(|| inner.producers.aborted_between(offset, bound));
        let mut read = ConsumerRead { plan: None, high_watermark: hw, last_stable_offset: lso, aborted };
        // Between the bound and LEO there is nothing to see yet, but the offset is not out of range.
        if offset > bound && offset <= inner.log.log_end_offset() {
            return Ok(read);
        }
        read.plan = inner.log.plan_read(offset, max_bytes, bound).map_err(log_error_code)?;
        Ok(read)
    }

    fn maybe_advance_hw(&self, inner: &mut Inner) {
        if inner.role != Role::Leader {
            return;
        }
        let leo = inner.log.log_end_offset();
        let candidate = inner
            .isr
            .iter()
            .filter(|r| **r != self.broker_id)
            .map(|r| inner.followers.get(r).map_or(leo, |f| f.log_end_offset))
            .fold(leo, i64::min);
        let current = self.high_watermark();
        if candidate > current {
            assert!(candidate <= leo, "high watermark {candidate} past log end offset {leo}");
            self.set_high_watermark(candidate);
        }
    }

    fn set_high_watermark(&self, hw: i64) {
        self.high_watermark.store(hw, Ordering::Release);
        self.hw_tx.send_replace(hw);
        self.activity.notify_waiters();
    }

    /// Leader side: DeleteRecords. Moves the log start offset to `offset` (-1: the high
    /// watermark), which may not pass the high watermark; returns the new log start offset.
    /// Followers adopt it on their next fetch round ([`Partition::follow_log_start`]).
    pub fn delete_records(&self, offset: i64) -> Result<i64, Refusal> {
        let mut inner = self.lock();
        if inner.role != Role::Leader {
            return Err(ResponseError::NotLeaderOrFollower.into());
        }
        if !inner.deletable {
            return Err(Refusal::new(
                ResponseError::PolicyViolation,
                "records of a topic with cleanup.policy=compact cannot be deleted",
            ));
        }
        let hw = self.high_watermark();
        let offset = if offset == -1 { hw } else { offset };
        if offset < 0 || offset > hw {
            return Err(Refusal::new(
                ResponseError::OffsetOutOfRange,
                format!("offset {offset} is not between 0 and the high watermark {hw}"),
            ));
        }
        inner.log.advance_log_start(offset).map_err(|e| Refusal::new(log_error_code(e), "cannot delete segments"))?;
        let start = inner.log.log_start_offset();
        inner.producers.forget_aborted_before(start);
        self.log_start_offset.store(start, Ordering::Release);
        drop(inner);
        self.activity.notify_waiters();
        Ok(start)
    }

    /// Where `epoch` ends in this replica's log (OffsetForLeaderEpoch).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let inner = self.lock();
        inner.log.epochs().end_offset_for(epoch, inner.log.log_end_offset())
    }

    /// The latest epoch in this replica's log.
    pub fn latest_log_epoch(&self) -> i32 {
        self.lock().log.epochs().latest_epoch()
    }

    /// ListOffsets by timestamp: the first record with timestamp >= `timestamp`, as
    /// `(offset, timestamp)`, below the HW.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, ResponseError> {
        let (found, limit) = {
            let inner = self.lock();
            let limit = inner.log.config().max_uncompressed_batch_bytes;
            (inner.log.find_batch_by_time(timestamp).map_err(log_error_code)?, limit)
        };
        let Some((bytes, header)) = found else {
            return Ok(None);
        };
        let hw = self.high_watermark();
        if header.base_offset >= hw {
            return Ok(None);
        }
        let mut buf = bytes;
        let records = crate::log::records::decode_batch(&mut buf, limit).map_err(|e| {
            tracing::warn!(topic = %self.topic, partition = self.index, offset = header.base_offset, error = %e, "cannot decode a batch to search it by time");
            ResponseError::CorruptMessage
        })?;
        Ok(records
            .records
            .into_iter()
            .find(|r| r.timestamp >= timestamp && r.offset < hw)
            .map(|r| (r.offset, r.timestamp)))
    }

    /// When the record at `offset` was written, from its batch header alone: exact for a batch's
    /// first and last records, interpolated between them otherwise (a batch spans a producer's
    /// linger time). `None` when the record is gone (retention) or not below the high watermark.
    pub fn timestamp_at(&self, offset: i64) -> Option<i64> {
        if offset >= self.high_watermark() {
            return None;
        }
        let header = self.lock().log.batch_header_at(offset).ok()??;
        let delta = i64::from(header.last_offset_delta.max(1));
        let position = (offset - header.base_offset).clamp(0, delta);
        let span = header.max_timestamp.saturating_sub(header.base_timestamp).max(0);
        Some(header.base_timestamp + span * position / delta)
    }

    /// The newest timestamp in the log (ListOffsets -3).
    pub fn max_timestamp(&self) -> i64 {
        self.lock().log.max_timestamp()
    }

    /// Fsyncs the log; returns the new recovery point.
    pub fn flush(&self) -> std::io::Result<i64> {
        let mut inner = self.lock();
        inner.log.flush()?;
        Ok(inner.log.recovery_point())
    }

    /// Forgets idempotent producers unused for `max_age` (Kafka's producer id expiration).
    pub fn expire_producers(&self, now_ms: i64, max_age: Duration) -> usize {
        self.lock().producers.expire(now_ms, i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX))
    }

    /// Applies retention (leaders and followers alike, below the HW).
    pub fn apply_retention(&self, now_ms: i64) -> Result<usize, LogError> {
        let mut inner = self.lock();
        let deleted = inner.log.apply_retention(now_ms, self.high_watermark())?;
        let start = inner.log.log_start_offset();
        inner.producers.forget_aborted_before(start);
        self.log_start_offset.store(start, Ordering::Release);
        Ok(deleted)
    }

    /// Compacts the log when its topic is compacted (Kafka's `delete.retention.ms` of one day for
    /// tombstones). Returns what was done, `None` for topics that are not compacted.
    pub fn compact(&self, now_ms: i64) -> Result<Option<crate::log::Compacted>, LogError> {
        const DELETE_RETENTION_MS: i64 = 24 * 3600 * 1000;
        let mut inner = self.lock();
        if !inner.compacted {
            return Ok(None);
        }
        let fates = inner.producers.txn_fates();
        inner.log.compact(now_ms, DELETE_RETENTION_MS, self.high_watermark(), &fates).map(Some)
    }

    /// Reads for internal consumers (group coordinator rebuild, timestamps): whole batches up to
    /// the HW.
    pub fn read_committed(&self, offset: i64, max_bytes: usize) -> Result<Bytes, ResponseError> {
        let plan = {
            let inner = self.lock();
            inner.log.plan_read(offset, max_bytes, self.high_watermark()).map_err(log_error_code)?
        };
        match plan {
            Some(plan) => plan.execute().map_err(|_| ResponseError::KafkaStorageError),
            None => Ok(Bytes::new()),
        }
    }

    /// Reads whole batches up to the log end offset, replicated or not: the group coordinator's
    /// load after a restart, when the checkpointed high watermark may trail the ISR.
    pub fn read_to_log_end(&self, offset: i64, max_bytes: usize) -> Result<Bytes, ResponseError> {
        let plan = {
            let inner = self.lock();
            let end = inner.log.log_end_offset();
            inner.log.plan_read(offset, max_bytes, end).map_err(log_error_code)?
        };
        match plan {
            Some(plan) => plan.execute().map_err(|_| ResponseError::KafkaStorageError),
            None => Ok(Bytes::new()),
        }
    }

    /// Every whole batch from the log start to the log end offset, replicated or not, in order:
    /// the coordinators' replay of their topic at start (after a crash the checkpointed high
    /// watermark may trail what the ISR had acknowledged). A read or framing error is logged and
    /// ends the replay there.
    pub fn replay_to_log_end(&self, mut each: impl FnMut(&BatchHeader, Bytes)) {
        let mut offset = self.log_start_offset();
        let end = self.log_end_offset();
        while offset < end {
            let bytes = match self.read_to_log_end(offset, 1 << 20) {
                Ok(bytes) if !bytes.is_empty() => bytes,
                Ok(_) => return,
                Err(e) => {
                    tracing::error!(topic = %self.topic, partition = self.index, offset, error = %e, "cannot read the log; the replay stops here");
                    return;
                }
            };
            let batches = match batch::split_trusted(&bytes) {
                Ok(batches) => batches,
                Err(e) => {
                    tracing::error!(topic = %self.topic, partition = self.index, offset, error = %e, "cannot frame the log; the replay stops here");
                    return;
                }
            };
            let before = offset;
            for (pos, header) in batches {
                offset = offset.max(header.next_offset());
                each(&header, bytes.slice(pos..pos + header.total_len()));
            }
            if offset == before {
                return;
            }
        }
    }

    /// Waits until the high watermark covers an append (acks=all); returns the error to report
    /// otherwise: NOT_LEADER_OR_FOLLOWER when leadership moved, NOT_ENOUGH_REPLICAS_AFTER_APPEND
    /// when the ISR fell below `min.insync.replicas`, REQUEST_TIMED_OUT.
    ///
    /// Only a high watermark reached while this replica still leads in the append's epoch
    /// counts. A leader that lost leadership becomes a follower, truncates what the new leader
    /// never had, and adopts the new leader's high watermark, which then covers other records at
    /// the same offsets: acknowledging on that would lose the record.
    pub async fn await_replication(
        &self,
        appended: &Appended,
        deadline: tokio::time::Instant,
    ) -> Option<ResponseError> {
        let next_offset = appended.next_offset;
        let mut hw = self.watch_high_watermark();
        // Drop the watch's read guard at once: the checks below take the replica lock, and a
        // writer holding that lock may be waiting to publish a new high watermark.
        let epoch = appended.leader_epoch;
        let settled = |hw: &i64| *hw >= next_offset || self.leading_epoch.load(Ordering::Acquire) != epoch;
        let reached = tokio::time::timeout_at(deadline, async { hw.wait_for(settled).await.map(|_| ()) }).await;
        let still_leading = || {
            let inner = self.lock();
            inner.role == Role::Leader && inner.leader_epoch == appended.leader_epoch
        };
        match reached {
            Ok(Ok(_)) if !still_leading() => Some(ResponseError::NotLeaderOrFollower),
            Ok(Ok(_)) if self.isr_below_min() => Some(ResponseError::NotEnoughReplicasAfterAppend),
            Ok(Ok(_)) => None,
            Ok(Err(_)) => Some(ResponseError::NotLeaderOrFollower),
            Err(_) if !still_leading() => Some(ResponseError::NotLeaderOrFollower),
            Err(_) if self.isr_below_min() => Some(ResponseError::NotEnoughReplicasAfterAppend),
            Err(_) => Some(ResponseError::RequestTimedOut),
        }
    }

    /// The header of every batch (for tests and diagnostics).
    pub fn batch_headers(&self) -> Result<Vec<BatchHeader>, ResponseError> {
        let mut out = Vec::new();
        let mut offset = self.log_start_offset();
        loop {
            let bytes = self.read_committed(offset, 1 << 20)?;
            let headers = batch::split_batches(&bytes).map_err(|_| ResponseError::CorruptMessage)?;
            let Some((_, last)) = headers.last() else {
                return Ok(out);
            };
            offset = last.next_offset();
            out.extend(headers.into_iter().map(|(_, h)| h));
        }
    }
}

pub fn log_error_code(e: LogError) -> ResponseError {
    match e {
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::Corrupt(_) => ResponseError::CorruptMessage,
        LogError::NonContiguous { .. } | LogError::Io(_) => ResponseError::KafkaStorageError,
    }
}
