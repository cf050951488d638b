//! Idempotent-producer state of one partition: the last five batches of each producer id.
//!
//! A retried batch whose sequence range matches a cached one is a duplicate: it is acknowledged
//! with its original offset and not appended again. A gap gives OUT_OF_ORDER_SEQUENCE_NUMBER, an
//! older epoch INVALID_PRODUCER_EPOCH. State is rebuilt from the log on open.
//!
//! Transactions (KIP-98): a transactional batch from a producer with no open transaction opens
//! one at its offset; a marker (a control batch the coordinator writes) closes it, committed or
//! aborted. Aborted transactions are kept as Kafka's `.txnindex` entries are, so read_committed
//! fetches can list them; the first offset of the oldest open transaction bounds the last stable
//! offset. A non-transactional batch from a producer with an open transaction is INVALID_TXN_STATE.
//!
//! State is bounded: a producer id unused for `producer_id_expiration` (Kafka's
//! `producer.id.expiration.ms`, by the broker's clock) is forgotten, and a partition keeps at most
//! [`MAX_PRODUCERS`] of them, the least recently used going first, so batches stamped with
//! invented producer ids cannot grow the broker's memory without end.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::log::batch::BatchHeader;

/// Batches remembered per producer, as Kafka does.
const CACHED_BATCHES: usize = 5;

/// Producer ids remembered per partition.
pub const MAX_PRODUCERS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CachedBatch {
    first_sequence: i32,
    last_sequence: i32,
    first_offset: i64,
    last_offset: i64,
}

#[derive(Debug, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<CachedBatch>,
    /// When this producer's last batch was recorded (broker clock, Unix ms).
    last_seen_ms: i64,
    /// The first offset of this producer's open transaction on this partition.
    txn_first_offset: Option<i64>,
    /// The coordinator epoch of the last marker (older coordinators are fenced).
    coordinator_epoch: i32,
}

/// A transaction closed by its marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The marker's offset.
    pub last_offset: i64,
    pub aborted: bool,
}

/// Why a marker was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerCheck {
    Ok,
    StaleEpoch { current: i16, got: i16 },
    CoordinatorFenced { current: i32, got: i32 },
}

/// The verdict on one incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// Already in the log at this offset: acknowledge, do not append.
    Duplicate {
        first_offset: i64,
    },
    OutOfOrder {
        expected: i32,
        got: i32,
    },
    StaleEpoch {
        current: i16,
        got: i16,
    },
    /// A non-transactional batch while this producer has a transaction open here.
    InvalidTxnState,
}

#[derive(Debug, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id.
    ongoing: BTreeMap<i64, i64>,
    /// Aborted transactions in marker order (Kafka's `.txnindex`), while their marker is in the log.
    aborted: Vec<CompletedTxn>,
    /// Transactions whose marker is not below the high watermark yet: they still hold the last
    /// stable offset back.
    unreplicated: Vec<CompletedTxn>,
    /// Just past the last data (non-control) batch: what follows are markers only, which a
    /// consumer at this offset has nothing more to read in.
    pub data_end: i64,
}

impl ProducerStates {
    pub fn check(&self, header: &BatchHeader) -> SequenceCheck {
        if header.producer_id < 0 {
            return SequenceCheck::Append;
        }
        let Some(entry) = self.producers.get(&header.producer_id) else {
            return SequenceCheck::Append;
        };
        if header.producer_epoch < entry.epoch {
            return SequenceCheck::StaleEpoch { current: entry.epoch, got: header.producer_epoch };
        }
        if entry.txn_first_offset.is_some() && !header.is_transactional() {
            return SequenceCheck::InvalidTxnState;
        }
        if header.base_sequence < 0 {
            return SequenceCheck::Append;
        }
        if header.producer_epoch > entry.epoch {
            return if header.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::OutOfOrder { expected: 0, got: header.base_sequence }
            };
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == header.base_sequence && b.last_sequence == header.last_sequence())
        {
            return SequenceCheck::Duplicate { first_offset: dup.first_offset };
        }
        let Some(last) = entry.batches.back() else {
            return SequenceCheck::Append;
        };
        let expected = last.last_sequence.wrapping_add(1) & i32::MAX;
        if header.base_sequence != expected {
            return SequenceCheck::OutOfOrder { expected, got: header.base_sequence };
        }
        SequenceCheck::Append
    }

    /// Records a data batch that is now in the log (with its assigned base offset), at `now_ms`.
    pub fn record(&mut self, header: &BatchHeader, now_ms: i64) {
        self.data_end = self.data_end.max(header.next_offset());
        if header.producer_id < 0 || (header.base_sequence < 0 && !header.is_transactional()) {
            return;
        }
        if self.producers.len() >= MAX_PRODUCERS && !self.producers.contains_key(&header.producer_id) {
            self.evict_least_recent();
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        entry.last_seen_ms = entry.last_seen_ms.max(now_ms);
        if header.producer_epoch != entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
        }
        if header.is_transactional() && entry.txn_first_offset.is_none() {
            entry.txn_first_offset = Some(header.base_offset);
            self.ongoing.insert(header.base_offset, header.producer_id);
        }
        if header.base_sequence < 0 {
            return;
        }
        if entry.batches.len() == CACHED_BATCHES {
            entry.batches.pop_front();
        }
        entry.batches.push_back(CachedBatch {
            first_sequence: header.base_sequence,
            last_sequence: header.last_sequence(),
            first_offset: header.base_offset,
            last_offset: header.last_offset(),
        });
    }

    /// Whether a marker from `producer_id` at `epoch`, written by a coordinator at
    /// `coordinator_epoch`, may be appended.
    pub fn check_marker(&self, producer_id: i64, epoch: i16, coordinator_epoch: i32) -> MarkerCheck {
        let Some(entry) = self.producers.get(&producer_id) else {
            return MarkerCheck::Ok;
        };
        if epoch < entry.epoch {
            return MarkerCheck::StaleEpoch { current: entry.epoch, got: epoch };
        }
        if coordinator_epoch < entry.coordinator_epoch {
            return MarkerCheck::CoordinatorFenced { current: entry.coordinator_epoch, got: coordinator_epoch };
        }
        MarkerCheck::Ok
    }

    /// Records a marker now in the log at `offset`: the producer's open transaction here (if
    /// any) closes. A higher epoch (a coordinator fencing a zombie) resets the sequences, so the
    /// old epoch's batches are refused from here on.
    pub fn record_marker(
        &mut self,
        producer_id: i64,
        epoch: i16,
        coordinator_epoch: i32,
        offset: i64,
        commit: bool,
        now_ms: i64,
    ) -> Option<CompletedTxn> {
        let entry = self.producers.entry(producer_id).or_default();
        entry.last_seen_ms = entry.last_seen_ms.max(now_ms);
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry.coordinator_epoch = entry.coordinator_epoch.max(coordinator_epoch);
        let first_offset = entry.txn_first_offset.take()?;
        self.ongoing.remove(&first_offset);
        let completed = CompletedTxn { producer_id, first_offset, last_offset: offset, aborted: !commit };
        if !commit {
            self.aborted.push(completed);
        }
        self.unreplicated.push(completed);
        Some(completed)
    }

    /// The first offset of the oldest transaction that is open, or closed by a marker not yet
    /// below `high_watermark`: the last stable offset is never past it.
    pub fn first_unstable_offset(&mut self, high_watermark: i64) -> Option<i64> {
        self.unreplicated.retain(|t| t.last_offset >= high_watermark);
        let open = self.ongoing.keys().next().copied();
        let closing = self.unreplicated.iter().map(|t| t.first_offset).min();
        open.into_iter().chain(closing).min()
    }

    /// The aborted transactions a read_committed fetch of `[from, to)` must list: those whose
    /// marker is at or after `from` and whose first record is before `to`, as
    /// (producer id, first offset).
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        let start = self.aborted.partition_point(|t| t.last_offset < from);
        self.aborted[start..].iter().filter(|t| t.first_offset < to).map(|t| (t.producer_id, t.first_offset)).collect()
    }

    /// Forgets aborted transactions whose marker is below the log start (retention, DeleteRecords).
    pub fn forget_aborted_before(&mut self, log_start_offset: i64) {
        self.aborted.retain(|t| t.last_offset >= log_start_offset);
    }

    /// What became of each transactional record's transaction, for compaction: a snapshot
    /// that answers (producer id, offset) -> committed, aborted or still open.
    pub fn txn_fates(&self) -> impl Fn(i64, i64) -> crate::log::TxnFate {
        let mut aborted: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for t in &self.aborted {
            aborted.entry(t.producer_id).or_default().push((t.first_offset, t.last_offset));
        }
        let open: HashMap<i64, i64> = self.ongoing.iter().map(|(first, pid)| (*pid, *first)).collect();
        move |pid, offset| {
            if aborted.get(&pid).is_some_and(|ranges| ranges.iter().any(|(f, l)| (*f..=*l).contains(&offset))) {
                crate::log::TxnFate::Aborted
            } else if open.get(&pid).is_some_and(|first| *first <= offset) {
                crate::log::TxnFate::Open
            } else {
                crate::log::TxnFate::Committed
            }
        }
    }

    /// Open transactions on this partition: (producer id, first offset).
    pub fn open_transactions(&self) -> Vec<(i64, i64)> {
        self.ongoing.iter().map(|(first, pid)| (*pid, *first)).collect()
    }

    /// Forgets the least recently used tenth of the producers (at least one). A producer with a
    /// transaction open here is never forgotten: its marker must still find it.
    fn evict_least_recent(&mut self) {
        let mut seen: Vec<i64> =
            self.producers.values().filter(|e| e.txn_first_offset.is_none()).map(|e| e.last_seen_ms).collect();
        if seen.is_empty() {
            return;
        }
        let cut = (seen.len() / 10).max(1);
        let (_, threshold, _) = seen.select_nth_unstable(cut - 1);
        let threshold = *threshold;
        let mut removed = 0;
        self.producers.retain(|_, e| {
            let evict = removed < cut && e.last_seen_ms <= threshold && e.txn_first_offset.is_none();
            removed += usize::from(evict);
            !evict
        });
    }

    /// Forgets producers not seen for `max_age_ms` (Kafka's producer id expiration). Returns how
    /// many went.
    pub fn expire(&mut self, now_ms: i64, max_age_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, e| e.txn_first_offset.is_some() || now_ms.saturating_sub(e.last_seen_ms) < max_age_ms);
        before - self.producers.len()
    }

    /// Forgets batches at or past `offset` (the log was truncated).
    pub fn truncate_from(&mut self, offset: i64) {
        for entry in self.producers.values_mut() {
            entry.batches.retain(|b| b.last_offset < offset);
        }
        self.producers.retain(|_, e| !e.batches.is_empty() || e.txn_first_offset.is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    #[test]
    fn sequences() {
        let mut states = ProducerStates::default();
        let check = |states: &ProducerStates, h: BatchHeader, want: SequenceCheck| {
            assert_eq!(states.check(&h), want, "for {h:?}");
        };
        check(&states, header(-1, 0, -1, 3, 0), SequenceCheck::Append);
        let first = header(7, 0, 0, 3, 10);
        check(&states, first, SequenceCheck::Append);
        states.record(&first, 0);
        check(&states, header(7, 0, 0, 3, 0), SequenceCheck::Duplicate { first_offset: 10 });
        check(&states, header(7, 0, 3, 2, 0), SequenceCheck::Append);
        check(&states, header(7, 0, 5, 2, 0), SequenceCheck::OutOfOrder { expected: 3, got: 5 });
        check(&states, header(7, 1, 0, 2, 0), SequenceCheck::Append);
        check(&states, header(7, 1, 4, 2, 0), SequenceCheck::OutOfOrder { expected: 0, got: 4 });
        states.record(&header(7, 1, 0, 2, 13), 0);
        check(&states, header(7, 0, 3, 2, 0), SequenceCheck::StaleEpoch { current: 1, got: 0 });
        states.truncate_from(13);
        check(&states, header(7, 0, 3, 2, 0), SequenceCheck::Append);
    }

    #[test]
    fn producer_state_is_bounded_by_age_and_count() {
        let mut states = ProducerStates::default();
        states.record(&header(1, 0, 0, 1, 0), 1_000);
        states.record(&header(2, 0, 0, 1, 1), 5_000);
        assert_eq!(states.expire(6_000, 2_000), 1, "producer 1 was idle for 5 s");
        assert_eq!(states.check(&header(2, 0, 0, 1, 0)), SequenceCheck::Duplicate { first_offset: 1 });
        // Invented producer ids, far more than a partition keeps: memory stays bounded and the
        // most recent producers are still known.
        for pid in 10..(10 + 3 * MAX_PRODUCERS as i64) {
            states.record(&header(pid, 0, 0, 1, pid), pid);
        }
        assert!(states.producers.len() <= MAX_PRODUCERS, "{} producers kept", states.producers.len());
        let last = 9 + 3 * MAX_PRODUCERS as i64;
        assert_eq!(states.check(&header(last, 0, 0, 1, 0)), SequenceCheck::Duplicate { first_offset: last });
    }

    fn transactional(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader { attributes: crate::log::batch::ATTR_TRANSACTIONAL, ..header(pid, epoch, seq, count, base_offset) }
    }

    /// Open transactions hold the last stable offset at their first offset; markers close them;
    /// aborted ones are listed for the fetches that may hold their records, and only those.
    #[test]
    fn transactions_open_close_and_bound_the_last_stable_offset() {
        let mut states = ProducerStates::default();
        // Producer 1 opens at 10 (two batches), producer 2 at 15, then plain data at 20.
        for h in [transactional(1, 0, 0, 3, 10), transactional(2, 0, 0, 2, 13), transactional(1, 0, 3, 2, 15)] {
            assert_eq!(states.check(&h), SequenceCheck::Append);
            states.record(&h, 0);
        }
        states.record(&header(-1, -1, -1, 3, 17), 0);
        assert_eq!(states.data_end, 20);
        assert_eq!(states.first_unstable_offset(20), Some(10));
        assert_eq!(states.open_transactions(), vec![(1, 10), (2, 13)]);
        // A non-transactional batch from producer 1 now: INVALID_TXN_STATE.
        assert_eq!(states.check(&header(1, 0, 5, 1, 0)), SequenceCheck::InvalidTxnState);
        // Producer 1 aborts (marker at 20); producer 2 is still open.
        let done = states.record_marker(1, 0, 0, 20, false, 0).expect("closes");
        assert_eq!(done, CompletedTxn { producer_id: 1, first_offset: 10, last_offset: 20, aborted: true });
        assert_eq!(
            states.first_unstable_offset(20),
            Some(10),
            "the abort's marker is not below the high watermark yet"
        );
        assert_eq!(states.first_unstable_offset(21), Some(13), "producer 2's open transaction starts at 13");
        // Producer 2 commits at 21; everything is stable once the marker is replicated.
        states.record_marker(2, 0, 0, 21, true, 0).expect("closes");
        assert_eq!(states.first_unstable_offset(21), Some(13), "the commit marker is not below the high watermark yet");
        assert_eq!(states.first_unstable_offset(22), None);
        assert_eq!(states.data_end, 20, "markers are not data");
        // Aborted transactions for fetches: only producer 1's, and only when its marker is at or
        // after the fetch offset and its first record before the read's end.
        assert_eq!(states.aborted_between(0, 22), vec![(1, 10)]);
        assert_eq!(states.aborted_between(20, 22), vec![(1, 10)]);
        assert_eq!(states.aborted_between(21, 30), Vec::<(i64, i64)>::new());
        assert_eq!(states.aborted_between(0, 10), Vec::<(i64, i64)>::new());
        // A marker with no open transaction closes nothing; an older epoch's marker is refused,
        // a newer one bumps the producer's epoch (its old batches are fenced).
        assert_eq!(states.record_marker(1, 0, 0, 22, true, 0), None);
        assert_eq!(states.check_marker(1, 0, 0), MarkerCheck::Ok);
        states.record_marker(1, 1, 0, 23, false, 0);
        assert_eq!(states.check_marker(1, 0, 0), MarkerCheck::StaleEpoch { current: 1, got: 0 });
        assert_eq!(states.check(&transactional(1, 0, 5, 1, 0)), SequenceCheck::StaleEpoch { current: 1, got: 0 });
        assert_eq!(states.check_marker(1, 1, -1), MarkerCheck::CoordinatorFenced { current: 0, got: -1 });
        states.forget_aborted_before(21);
        assert!(states.aborted_between(0, 100).is_empty(), "retention took the aborted transaction's marker");
    }

    /// A producer with a transaction open is neither expired nor evicted: its marker must find it.
    #[test]
    fn open_transactions_survive_expiry_and_eviction() {
        let mut states = ProducerStates::default();
        states.record(&transactional(1, 0, 0, 1, 0), 0);
        assert_eq!(states.expire(1_000_000, 10), 0);
        for pid in 10..(10 + 2 * MAX_PRODUCERS as i64) {
            states.record(&header(pid, 0, 0, 1, pid), pid);
        }
        assert_eq!(states.open_transactions(), vec![(1, 0)]);
        assert!(states.record_marker(1, 0, 0, 99, true, 0).is_some());
    }
}
