//! A replica's side of transactions: the flag that tells a restart to rebuild transaction state
//! from the whole log, that rebuild (and the tracking of each batch it and appends go through),
//! the markers a coordinator appends, and the last stable offset.

use std::sync::atomic::Ordering;

use kafka_protocol::ResponseError;

use super::producer::{CompletedTxn, MarkerCheck, ProducerStates};
use super::{Appended, Inner, Partition, Refusal, Role, TRANSACTIONS_FLAG};
use crate::cluster::maintenance::now_ms;
use crate::log::batch::{self, BatchHeader};
use crate::log::{Log, LogError};

impl Partition {
    /// Creates the transactions flag (file and directory fsynced) before the first transactional
    /// batch reaches this log, so a restart knows to rebuild the transaction state.
    pub(super) fn flag_transactions(inner: &mut Inner) -> std::io::Result<()> {
        if inner.has_transactions {
            return Ok(());
        }
        let path = inner.dir.join(TRANSACTIONS_FLAG);
        std::fs::File::create(&path)?.sync_all()?;
        crate::log::sync_dir(&inner.dir)?;
        inner.has_transactions = true;
        Ok(())
    }

    /// Leader side: appends a transaction marker (WriteTxnMarkers) for `producer_id`, closing its
    /// open transaction here. A marker from an older producer epoch is INVALID_PRODUCER_EPOCH, from
    /// an older coordinator TRANSACTION_COORDINATOR_FENCED. The marker's epoch becomes the
    /// producer's: a bumped one (a fenced or timed-out producer) refuses the old epoch's batches.
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
    ) -> Result<(Appended, Option<CompletedTxn>), Refusal> {
        let mut inner = self.lock();
        if inner.role != Role::Leader {
            return Err(ResponseError::NotLeaderOrFollower.into());
        }
        // A marker is an acks=all write: not appended where it cannot be acknowledged (the
        // coordinator tries again later rather than leaving copies behind).
        if inner.isr.len() < inner.min_insync_replicas {
            return Err(ResponseError::NotEnoughReplicas.into());
        }
        match inner.producers.check_marker(producer_id, producer_epoch, coordinator_epoch) {
            MarkerCheck::Ok => {}
            MarkerCheck::StaleEpoch { current, got } => {
                return Err(Refusal::new(
                    ResponseError::InvalidProducerEpoch,
                    format!("marker epoch {got} is older than {current}"),
                ))
            }
            MarkerCheck::CoordinatorFenced { current, got } => {
                return Err(Refusal::new(
                    ResponseError::TransactionCoordinatorFenced,
                    format!("coordinator epoch {got} is older than {current}"),
                ))
            }
        }
        Self::flag_transactions(&mut inner)
            .map_err(|e| Refusal::new(ResponseError::KafkaStorageError, format!("the transactions flag: {e}")))?;
        let mut buf = batch::encode_marker(producer_id, producer_epoch, coordinator_epoch, commit, now_ms())
            .map_err(|e| Refusal::new(ResponseError::UnknownServerError, e))?;
        let headers =
            batch::split_batches(&buf).map_err(|e| Refusal::new(ResponseError::CorruptMessage, e.to_string()))?;
        let epoch = inner.leader_epoch.max(0);
        let info = inner.log.append_as_leader(&mut buf, &headers, epoch).map_err(|e| {
            tracing::error!(topic = %self.topic, partition = self.index, error = %e, "marker append failed");
            Refusal::new(ResponseError::KafkaStorageError, format!("the append failed: {e}"))
        })?;
        let completed = inner.producers.record_marker(
            producer_id,
            producer_epoch,
            coordinator_epoch,
            info.first_offset,
            commit,
            now_ms(),
        );
        self.log_end_offset.store(inner.log.log_end_offset(), Ordering::Release);
        self.maybe_advance_hw(&mut inner);
        self.activity.notify_waiters();
        Ok((
            Appended {
                base_offset: info.first_offset,
                next_offset: info.last_offset + 1,
                log_start_offset: inner.log.log_start_offset(),
                leader_epoch: inner.leader_epoch,
            },
            completed,
        ))
    }

    /// The last stable offset: the high watermark, or the first offset of the oldest transaction
    /// still open (or closed by a marker not yet replicated), whichever is lower.
    pub fn last_stable_offset(&self) -> i64 {
        let mut inner = self.lock();
        Self::last_stable_locked(&mut inner, self.high_watermark())
    }

    pub(super) fn last_stable_locked(inner: &mut Inner, hw: i64) -> i64 {
        // Never below the log start: records deleted there cannot hold anything back.
        let start = inner.log.log_start_offset();
        inner.producers.first_unstable_offset(hw).map_or(hw, |first| first.min(hw)).max(start.min(hw))
    }

    /// Open transactions on this replica: (producer id, first offset).
    pub fn open_transactions(&self) -> Vec<(i64, i64)> {
        self.lock().producers.open_transactions()
    }

    /// (last stable offset, end of the last data batch): a consumer at or past the latter has
    /// only transaction markers left to read, so its lag is 0 (Burrow's lag-1 complaint).
    pub fn stable_offsets(&self) -> (i64, i64) {
        let mut inner = self.lock();
        let lso = Self::last_stable_locked(&mut inner, self.high_watermark());
        (lso, inner.producers.data_end.min(inner.log.log_end_offset()))
    }
}

/// Rebuilds the producer state from the log: from the active segment (the recent batches a
/// retrying producer can still send again; Kafka keeps snapshots instead), or from the log start
/// when the log has held transactions, whose open transactions and aborted ones may lie anywhere.
pub(super) fn rebuild_producer_state(log: &Log, whole_log: bool) -> Result<ProducerStates, LogError> {
    let mut producers = ProducerStates::default();
    let mut offset =
        if whole_log { log.log_start_offset() } else { log.active_base_offset().max(log.log_start_offset()) };
    // A log without transactions holds data only: its data ends where the scan starts at least.
    producers.data_end = if whole_log { log.log_start_offset() } else { offset };
    let end = log.log_end_offset();
    while offset < end {
        let bytes = log.read(offset, 4 << 20, end)?;
        let headers = batch::split_batches(&bytes)?;
        let Some((_, last)) = headers.last() else {
            break;
        };
        offset = last.next_offset();
        for (pos, h) in headers {
            // Rebuilt state counts as seen now: an idle producer expires one expiration after start.
            track_batch(&mut producers, &bytes[pos..pos + h.total_len()], &h);
        }
    }
    producers.forget_aborted_before(log.log_start_offset());
    Ok(producers)
}

/// Records one batch now in the log: a marker closes its producer's transaction, anything else
/// is a data batch.
pub(super) fn track_batch(producers: &mut ProducerStates, bytes: &[u8], header: &BatchHeader) {
    if header.is_control() {
        if let Some((kind, epoch)) = batch::read_marker(bytes, header) {
            let coordinator_epoch = epoch.unwrap_or(0);
            producers.record_marker(
                header.producer_id,
                header.producer_epoch,
                coordinator_epoch,
                header.base_offset,
                kind == batch::ControlType::Commit,
                now_ms(),
            );
        }
        return;
    }
    producers.record(header, now_ms());
}
