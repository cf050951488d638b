//! The transaction coordinator's operations on the cluster (Kafka's TransactionCoordinator with
//! transaction.version 0, what librdkafka, kafka-python and the Java client before 4.0 speak).
//!
//! Each change runs in three steps: under the lock, check the request against the transaction
//! and mark it pending; append the new state to `__transaction_state` and wait for the ISR; under
//! the lock again, adopt the new state (or drop the mark if the append failed). EndTxn answers
//! once PrepareCommit or PrepareAbort is stored; a task then appends the markers to every
//! partition of the transaction (and materializes or drops the transaction's offset commits)
//! and stores CompleteCommit or CompleteAbort. The markers are retried until each partition has
//! its marker, so a transaction is completed or aborted whole, never half, across leader changes
//! and restarts (a transaction found in PrepareCommit or PrepareAbort at start is completed).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::records::{self, TxnValue};
use super::{
    TxnDescription, TxnMetadata, TxnState, ABORT_CHECK_INTERVAL, EPOCH_EXHAUSTED, MAX_TIMEOUT, STATE_PARTITIONS,
    TRANSACTION_STATE,
};
use crate::cluster::maintenance::now_ms;
use crate::cluster::{AdminError, Cluster, NewTopic, CONSUMER_OFFSETS};
use crate::group::records::partition_for;
use crate::group::OFFSETS_PARTITIONS;
use crate::log::batch::{self, PlainRecord};

/// How long one marker or state write may wait for the ISR before it is tried again.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between attempts to write a marker or a completion that failed, doubling up to
/// the maximum.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(5);
/// Kafka's `transactional.id.expiration.ms`: an id with no transaction for this long is forgotten.
const ID_EXPIRATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often idle ids are looked for.
const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// How long EndTxn waits for the markers and the completion before it answers anyway.
const END_TXN_WAIT: Duration = Duration::from_secs(5);

/// What `check_epoch` found wrong with a request's producer id and epoch.
fn producer_mismatch(meta: &TxnMetadata, producer_id: i64, epoch: i16) -> Option<ResponseError> {
    if meta.producer_id != producer_id {
        Some(ResponseError::InvalidProducerIdMapping)
    } else if meta.producer_epoch != epoch {
        Some(ResponseError::ProducerFenced)
    } else {
        None
    }
}

/// A transaction's state write to make: the transactional id and its next metadata.
struct Planned {
    next: TxnMetadata,
}

impl Cluster {
    /// The broker coordinating `transactional_id`: the leader of its `__transaction_state`
    /// partition, if the topic exists and the leader is up.
    pub fn transaction_coordinator(&self, transactional_id: &str) -> Option<i32> {
        let partition = partition_for(transactional_id, STATE_PARTITIONS);
        let leader = self.metadata().partition(TRANSACTION_STATE, partition)?.leader;
        self.broker(leader).filter(|b| b.is_up()).map(|b| b.id)
    }

    /// Creates `__transaction_state` on first use, as Kafka does: 50 partitions, compacted,
    /// replicated like `__consumer_offsets`.
    pub fn ensure_transaction_state(&self) -> Result<(), AdminError> {
        if self.has_topic(TRANSACTION_STATE) {
            return Ok(());
        }
        let config = std::collections::BTreeMap::from([
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("segment.bytes".to_string(), (100 * 1024 * 1024).to_string()),
        ]);
        let request = NewTopic {
            name: TRANSACTION_STATE.to_string(),
            partitions: Some(STATE_PARTITIONS),
            replication_factor: Some(self.config.brokers.min(3)),
            config,
        };
        match self.create_topic(&request, false) {
            Ok(_) => Ok(()),
            Err(e) if e.code == ResponseError::TopicAlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// NOT_COORDINATOR when `broker` does not coordinate `transactional_id`; `None` (in-process
    /// callers) skips the check.
    fn check_txn_coordinator(&self, broker: Option<i32>, transactional_id: &str) -> Result<(), ResponseError> {
        if transactional_id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        let Some(broker) = broker else {
            return Ok(());
        };
        match self.transaction_coordinator(transactional_id) {
            Some(id) if id == broker => Ok(()),
            Some(_) => Err(ResponseError::NotCoordinator),
            None => Err(ResponseError::CoordinatorNotAvailable),
        }
    }

    /// InitProducerId with a transactional id: a new producer id (epoch 0) for a new id, the
    /// epoch bumped for a known one (which fences the previous producer), a new producer id when
    /// the epoch is exhausted. An open transaction is aborted first (with the epoch bumped, so its
    /// producer is fenced) and the caller told CONCURRENT_TRANSACTIONS, to retry.
    pub async fn init_transactional_producer(
        self: &Arc<Self>,
        broker: Option<i32>,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        self.check_txn_coordinator(broker, transactional_id)?;
        if timeout_ms <= 0 || i64::from(timeout_ms) > MAX_TIMEOUT.as_millis() as i64 {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let now = now_ms();
        let planned = {
            let mut txns = self.transactions.lock();
            let meta = txns.entry(transactional_id.to_string()).or_insert_with(|| TxnMetadata {
                transactional_id: transactional_id.to_string(),
                producer_id: self.next_producer_id(),
                producer_epoch: -1,
                last_epoch: -1,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now,
                pending: false,
            });
            if meta.pending {
                return Err(ResponseError::ConcurrentTransactions);
            }
            if let Some((pid, epoch)) = expected {
                let known = meta.producer_epoch < 0 || pid == meta.producer_id;
                if !known {
                    return Err(ResponseError::ProducerFenced);
                }
                // A retry of a bump that succeeded: the same answer again.
                if epoch == meta.last_epoch && meta.state.is_complete_or_empty() {
                    return Ok((meta.producer_id, meta.producer_epoch));
                }
                if epoch != meta.producer_epoch && meta.producer_epoch >= 0 {
                    return Err(ResponseError::ProducerFenced);
                }
            }
            match meta.state {
                TxnState::PrepareCommit | TxnState::PrepareAbort => return Err(ResponseError::ConcurrentTransactions),
                TxnState::Ongoing => None,
                TxnState::Dead => return Err(ResponseError::ConcurrentTransactions),
                TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                    let mut next = meta.clone();
                    if meta.producer_epoch >= EPOCH_EXHAUSTED {
                        next.producer_id = self.next_producer_id();
                        next.producer_epoch = 0;
                        next.last_epoch = -1;
                    } else {
                        next.producer_epoch = meta.producer_epoch + 1;
                        next.last_epoch = if expected.is_some() { meta.producer_epoch } else { -1 };
                    }
                    next.timeout_ms = timeout_ms;
                    next.state = TxnState::Empty;
                    next.partitions.clear();
                    next.start_ms = -1;
                    next.last_update_ms = now;
                    meta.pending = true;
                    Some(Planned { next })
                }
            }
        };
        let Some(planned) = planned else {
            // An open transaction: abort it under a bumped epoch, which fences its producer.
            self.begin_abort(transactional_id, true).await?;
            return Err(ResponseError::ConcurrentTransactions);
        };
        let answer = (planned.next.producer_id, planned.next.producer_epoch);
        self.store_transition(planned).await?;
        Ok(answer)
    }

    /// Adds partitions to the transaction (AddPartitionsToTxn); starts it when it was not open.
    pub async fn add_partitions_to_txn(
        self: &Arc<Self>,
        broker: Option<i32>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), ResponseError> {
        self.check_txn_coordinator(broker, transactional_id)?;
        let now = now_ms();
        let planned = {
            let mut txns = self.transactions.lock();
            let meta = txns.get_mut(transactional_id).ok_or(ResponseError::InvalidProducerIdMapping)?;
            if let Some(e) = producer_mismatch(meta, producer_id, epoch) {
                return Err(e);
            }
            if meta.pending || matches!(meta.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
                return Err(ResponseError::ConcurrentTransactions);
            }
            if meta.state == TxnState::Dead {
                return Err(ResponseError::InvalidTxnState);
            }
            if meta.state == TxnState::Ongoing && partitions.iter().all(|p| meta.partitions.contains(p)) {
                return Ok(());
            }
            let mut next = meta.clone();
            if meta.state != TxnState::Ongoing {
                next.start_ms = now;
                next.partitions.clear();
            }
            next.state = TxnState::Ongoing;
            next.partitions.extend(partitions.iter().cloned());
            next.last_update_ms = now;
            meta.pending = true;
            Planned { next }
        };
        self.store_transition(planned).await
    }

    /// Adds a group's `__consumer_offsets` partition to the transaction (AddOffsetsToTxn), so
    /// the group's transactional offset commits get the transaction's marker.
    pub async fn add_offsets_to_txn(
        self: &Arc<Self>,
        broker: Option<i32>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> Result<(), ResponseError> {
        if !crate::group::valid_group_id(group_id) {
            return Err(ResponseError::InvalidGroupId);
        }
        let partition = (CONSUMER_OFFSETS.to_string(), partition_for(group_id, OFFSETS_PARTITIONS));
        self.add_partitions_to_txn(broker, transactional_id, producer_id, epoch, &[partition]).await
    }

    /// EndTxn: stores PrepareCommit or PrepareAbort and answers; the markers and the completion
    /// follow in a task. A retried EndTxn of a completed transaction is answered NONE again.
    pub async fn end_txn(
        self: &Arc<Self>,
        broker: Option<i32>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), ResponseError> {
        self.check_txn_coordinator(broker, transactional_id)?;
        let planned = {
            let mut txns = self.transactions.lock();
            let meta = txns.get_mut(transactional_id).ok_or(ResponseError::InvalidProducerIdMapping)?;
            if let Some(e) = producer_mismatch(meta, producer_id, epoch) {
                return Err(e);
            }
            if meta.pending {
                return Err(ResponseError::ConcurrentTransactions);
            }
            match (meta.state, commit) {
                (TxnState::Ongoing, _) => {}
                (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                    return Err(ResponseError::ConcurrentTransactions)
                }
                (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => return Ok(()),
                _ => return Err(ResponseError::InvalidTxnState),
            }
            let mut next = meta.clone();
            next.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
            next.last_update_ms = now_ms();
            meta.pending = true;
            Planned { next }
        };
        let next = planned.next.clone();
        self.store_transition(planned).await?;
        // The decision is stored: the transaction completes whatever happens to this request.
        // Answering once it has (within a bound) spares the client's next transaction the
        // CONCURRENT_TRANSACTIONS retries Kafka's early answer causes.
        let completing = tokio::spawn(Arc::clone(self).complete_transaction(next));
        let _ = tokio::time::timeout(END_TXN_WAIT, completing).await;
        Ok(())
    }

    /// Aborts an open transaction (a timeout, or a new producer for its id): PrepareAbort is
    /// stored, under a bumped epoch when `fence`, then the markers and CompleteAbort follow in a
    /// task. Not an error when the transaction is no longer open.
    async fn begin_abort(self: &Arc<Self>, transactional_id: &str, fence: bool) -> Result<(), ResponseError> {
        let planned = {
            let mut txns = self.transactions.lock();
            let Some(meta) = txns.get_mut(transactional_id) else {
                return Ok(());
            };
            if meta.pending {
                return Err(ResponseError::ConcurrentTransactions);
            }
            if meta.state != TxnState::Ongoing {
                return Ok(());
            }
            let mut next = meta.clone();
            if fence {
                next.producer_epoch = meta.producer_epoch.saturating_add(1);
                next.last_epoch = -1;
            }
            next.state = TxnState::PrepareAbort;
            next.last_update_ms = now_ms();
            meta.pending = true;
            Planned { next }
        };
        let next = planned.next.clone();
        tracing::info!(
            transactional_id,
            producer_id = next.producer_id,
            epoch = next.producer_epoch,
            fence,
            "aborting an open transaction"
        );
        self.store_transition(planned).await?;
        tokio::spawn(Arc::clone(self).complete_transaction(next));
        Ok(())
    }

    /// Stores a planned state and adopts it, or drops the pending mark when the write failed.
    /// In a task of its own: a request cancelled meanwhile (its connection closed, its broker
    /// stopped) must not leave the transaction marked pending forever.
    async fn store_transition(self: &Arc<Self>, planned: Planned) -> Result<(), ResponseError> {
        let cluster = Arc::clone(self);
        tokio::spawn(async move { cluster.store_and_adopt(planned).await })
            .await
            .unwrap_or(Err(ResponseError::UnknownServerError))
    }

    async fn store_and_adopt(&self, planned: Planned) -> Result<(), ResponseError> {
        let id = planned.next.transactional_id.clone();
        let result = self.store_txn_state(&id, Some(&planned.next.value())).await;
        // Writes checked as part of the open transaction finish before it is prepared.
        let _closed = matches!(planned.next.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
            .then(|| self.transactions.close_gate());
        let mut txns = self.transactions.lock();
        if let Some(meta) = txns.get_mut(&id) {
            match &result {
                Ok(()) => *meta = TxnMetadata { pending: false, ..planned.next },
                // An id first seen by this request and never stored is forgotten again.
                Err(_) if meta.producer_epoch < 0 => {
                    txns.remove(&id);
                }
                Err(_) => meta.pending = false,
            }
        }
        result
    }

    /// Writes the markers of a prepared transaction to each of its partitions, retrying until
    /// every partition has one, then stores CompleteCommit or CompleteAbort.
    pub(crate) async fn complete_transaction(self: Arc<Self>, prepared: TxnMetadata) {
        let commit = prepared.state == TxnState::PrepareCommit;
        let id = prepared.transactional_id.clone();
        // The coordinator epoch is the leader epoch of the id's `__transaction_state` partition.
        let state_partition = partition_for(&id, STATE_PARTITIONS);
        let coordinator_epoch =
            self.metadata().partition(TRANSACTION_STATE, state_partition).map_or(0, |p| p.leader_epoch);
        // Every partition's marker at once; each is retried until it is written.
        let mut markers = tokio::task::JoinSet::new();
        for (topic, index) in prepared.partitions.clone() {
            let cluster = Arc::clone(&self);
            let id = id.clone();
            let (pid, epoch) = (prepared.producer_id, prepared.producer_epoch);
            markers.spawn(async move {
                let mut backoff = RETRY_BACKOFF;
                loop {
                    match cluster.write_marker((topic.as_str(), index), pid, epoch, coordinator_epoch, commit).await {
                        Ok(()) => break,
                        Err(ResponseError::UnknownTopicOrPartition) => {
                            tracing::info!(transactional_id = %id, topic, partition = index, "no marker for a deleted partition");
                            break;
                        }
                        Err(e @ (ResponseError::InvalidProducerEpoch | ResponseError::TransactionCoordinatorFenced)) => {
                            tracing::warn!(transactional_id = %id, topic, partition = index, error = %e, "marker refused; not sent again");
                            break;
                        }
                        Err(e) => {
                            tracing::debug!(transactional_id = %id, topic, partition = index, error = %e, "marker not written yet; retrying");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
                        }
                    }
                }
            });
        }
        while markers.join_next().await.is_some() {}
        let mut complete = prepared;
        complete.state = if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
        complete.partitions.clear();
        complete.last_update_ms = now_ms();
        loop {
            let marked = {
                let mut txns = self.transactions.lock();
                match txns.get_mut(&id) {
                    // Completed already (by another task), or no longer this transaction.
                    Some(meta)
                        if meta.state != complete.state.prepared_by()
                            || meta.producer_id != complete.producer_id
                            || meta.producer_epoch != complete.producer_epoch =>
                    {
                        None
                    }
                    Some(meta) if !meta.pending => {
                        meta.pending = true;
                        Some(true)
                    }
                    Some(_) => Some(false),
                    None => None,
                }
            };
            match marked {
                None => return,
                Some(false) => {
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                Some(true) => {}
            }
            match self.store_transition(Planned { next: complete.clone() }).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(transactional_id = %id, error = %e, "cannot store the transaction's completion; retrying");
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
            }
        }
    }

    /// Appends one marker to a partition's leader and waits for the ISR. A marker on a
    /// `__consumer_offsets` partition also settles the producer's pending offset commits there.
    async fn write_marker(
        &self,
        (topic, index): (&str, i32),
        producer_id: i64,
        epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
    ) -> Result<(), ResponseError> {
        if self.metadata().partition(topic, index).is_none() {
            return Err(ResponseError::UnknownTopicOrPartition);
        }
        let replica = self.leader_replica(topic, index).ok_or(ResponseError::NotLeaderOrFollower)?;
        let (appended, _) = replica.append_marker(producer_id, epoch, coordinator_epoch, commit).map_err(|r| r.code)?;
        // The marker is in the leader's log: the offsets committed before it settle now (the
        // replication wait below only decides whether the marker is written again).
        if topic == CONSUMER_OFFSETS {
            self.settle_txn_offsets(producer_id, index, appended.base_offset, commit);
        }
        if self.config.flush_interval.is_zero() {
            replica.flush().map_err(|_| ResponseError::KafkaStorageError)?;
        }
        if let Some(e) = replica.await_replication(&appended, Instant::now() + WRITE_TIMEOUT).await {
            return Err(e);
        }
        Ok(())
    }

    /// Appends a transactional id's state (or a tombstone) to its `__transaction_state`
    /// partition and waits for the ISR.
    async fn store_txn_state(&self, transactional_id: &str, value: Option<&TxnValue>) -> Result<(), ResponseError> {
        let partition = partition_for(transactional_id, STATE_PARTITIONS);
        let replica = self.leader_replica(TRANSACTION_STATE, partition).ok_or(ResponseError::NotCoordinator)?;
        let record = PlainRecord {
            key: Some(records::key(transactional_id)),
            value: value.map(records::value),
            headers: Vec::new(),
        };
        let bytes = batch::encode_plain([record], now_ms()).map_err(|_| ResponseError::UnknownServerError)?;
        let coordinator_error = |e: ResponseError| match e {
            ResponseError::NotEnoughReplicas
            | ResponseError::NotEnoughReplicasAfterAppend
            | ResponseError::RequestTimedOut
            | ResponseError::UnknownTopicOrPartition => ResponseError::CoordinatorNotAvailable,
            ResponseError::NotLeaderOrFollower | ResponseError::KafkaStorageError => ResponseError::NotCoordinator,
            other => other,
        };
        let appended = replica.append_as_leader(&bytes, -1).map_err(|r| coordinator_error(r.code))?;
        if self.config.flush_interval.is_zero() {
            replica.flush().map_err(|_| ResponseError::NotCoordinator)?;
        }
        match replica.await_replication(&appended, Instant::now() + WRITE_TIMEOUT).await {
            None => Ok(()),
            Some(e) => Err(coordinator_error(e)),
        }
    }

    /// Whether `producer_id` at `epoch` may write to `topic`-`partition` in the transaction of
    /// `transactional_id` now: the transaction is Ongoing with that partition added (Kafka's
    /// KIP-890 verification, asked in process). INVALID_PRODUCER_EPOCH for an older epoch,
    /// INVALID_TXN_STATE otherwise, so a late retry cannot open a transaction nobody will end.
    /// Check and append under [`Cluster::txn_write_gate`].
    pub fn verify_txn_write(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), ResponseError> {
        let txns = self.transactions.lock();
        let Some(meta) = txns.get(transactional_id) else {
            return Err(ResponseError::InvalidTxnState);
        };
        if meta.producer_id != producer_id {
            return Err(ResponseError::InvalidTxnState);
        }
        if epoch < meta.producer_epoch {
            return Err(ResponseError::InvalidProducerEpoch);
        }
        if epoch != meta.producer_epoch
            || meta.state != TxnState::Ongoing
            || !meta.partitions.contains(&(topic.to_string(), partition))
        {
            return Err(ResponseError::InvalidTxnState);
        }
        Ok(())
    }

    /// Held across a transactional write's check and append (see `Transactions`).
    pub(crate) fn txn_write_gate(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.transactions.write_gate()
    }

    /// DescribeTransactions: one transactional id.
    pub fn describe_transaction(&self, transactional_id: &str) -> Option<TxnDescription> {
        let txns = self.transactions.lock();
        let meta = txns.get(transactional_id).filter(|m| m.state != TxnState::Dead && m.producer_epoch >= 0)?;
        Some(self.describe(meta))
    }

    /// ListTransactions: every transaction `broker` coordinates (all of them for `None`).
    pub fn list_transactions(&self, broker: Option<i32>) -> Vec<TxnDescription> {
        let txns = self.transactions.lock();
        let mut out: Vec<TxnDescription> = txns
            .values()
            .filter(|m| m.state != TxnState::Dead && m.producer_epoch >= 0)
            .map(|m| self.describe(m))
            .filter(|d| broker.is_none_or(|b| d.coordinator == b))
            .collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }

    fn describe(&self, meta: &TxnMetadata) -> TxnDescription {
        TxnDescription {
            transactional_id: meta.transactional_id.clone(),
            producer_id: meta.producer_id,
            producer_epoch: meta.producer_epoch,
            state: meta.state,
            timeout_ms: meta.timeout_ms,
            start_ms: meta.start_ms,
            partitions: meta.partitions.iter().cloned().collect(),
            coordinator: self.transaction_coordinator(&meta.transactional_id).unwrap_or(-1),
        }
    }

    /// Aborts transactions open past their timeout, and completes the ones a restart found
    /// prepared, until the runtime ends.
    pub(crate) async fn run_transaction_ticker(self: Arc<Self>) {
        let prepared: Vec<TxnMetadata> = {
            let txns = self.transactions.lock();
            txns.values()
                .filter(|m| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
                .cloned()
                .collect()
        };
        for meta in prepared {
            tracing::info!(transactional_id = %meta.transactional_id, state = meta.state.name(), "completing a transaction prepared before the restart");
            tokio::spawn(Arc::clone(&self).complete_transaction(meta));
        }
        let mut interval = tokio::time::interval(ABORT_CHECK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_expiry = Instant::now();
        let mut expiring: Option<tokio::task::JoinHandle<()>> = None;
        loop {
            interval.tick().await;
            let now = now_ms();
            if last_expiry.elapsed() >= EXPIRY_CHECK_INTERVAL && expiring.as_ref().is_none_or(|t| t.is_finished()) {
                last_expiry = Instant::now();
                let cluster = Arc::clone(&self);
                expiring = Some(tokio::spawn(async move { cluster.expire_transactional_ids(now).await }));
            }
            let expired: Vec<String> = {
                let txns = self.transactions.lock();
                txns.values()
                    .filter(|m| {
                        m.state == TxnState::Ongoing
                            && !m.pending
                            && m.start_ms >= 0
                            && m.start_ms.saturating_add(i64::from(m.timeout_ms)) < now
                    })
                    .map(|m| m.transactional_id.clone())
                    .collect()
            };
            for id in expired {
                tracing::info!(transactional_id = %id, "transaction timed out");
                if let Err(e) = self.begin_abort(&id, true).await {
                    tracing::warn!(transactional_id = %id, error = %e, "cannot abort a timed-out transaction yet");
                }
            }
        }
    }

    /// Forgets transactional ids idle (no transaction open) for `transactional.id.expiration.ms`,
    /// with a tombstone each, as Kafka does: ids cost memory and a key in the log only while used.
    pub(crate) async fn expire_transactional_ids(&self, now: i64) {
        let idle = |m: &TxnMetadata| {
            !m.pending
                && m.state.is_complete_or_empty()
                && m.last_update_ms.saturating_add(ID_EXPIRATION.as_millis() as i64) <= now
        };
        let candidates: Vec<String> =
            self.transactions.lock().values().filter(|m| idle(m)).map(|m| m.transactional_id.clone()).collect();
        for id in candidates {
            // Marked just before its own write, still idle: nothing else waits on the others.
            let marked = match self.transactions.lock().get_mut(&id) {
                Some(meta) if idle(meta) => {
                    meta.pending = true;
                    true
                }
                _ => false,
            };
            if !marked {
                continue;
            }
            let stored = self.store_txn_state(&id, None).await;
            let mut txns = self.transactions.lock();
            match stored {
                Ok(()) => {
                    txns.remove(&id);
                    tracing::info!(transactional_id = %id, "transactional id expired");
                }
                Err(e) => {
                    if let Some(meta) = txns.get_mut(&id) {
                        meta.pending = false;
                    }
                    tracing::debug!(transactional_id = %id, error = %e, "cannot expire a transactional id yet");
                }
            }
        }
    }

    /// Replays `__transaction_state` into the coordinator's memory at start: the last record of
    /// each id wins, a tombstone removes it. Returns how many ids were loaded.
    pub(crate) fn load_transactions(&self) -> usize {
        let mut txns = self.transactions.lock();
        txns.clear();
        if !self.has_topic(TRANSACTION_STATE) {
            return 0;
        }
        for partition in 0..STATE_PARTITIONS {
            let Some(replica) = self.leader_replica(TRANSACTION_STATE, partition) else {
                continue;
            };
            replica.replay_to_log_end(|header, mut raw| {
                if header.is_control() {
                    return;
                }
                let Ok(set) = crate::log::records::decode_batch(&mut raw, replica.decode_limit()) else {
                    tracing::warn!(partition, offset = header.base_offset, "skipping an undecodable __transaction_state batch");
                    return;
                };
                for record in set.records {
                    let Some(key) = record.key.as_ref() else { continue };
                    let id = match records::decode_key(key) {
                        Ok(id) => id,
                        Err(e) => {
                            tracing::warn!(partition, offset = record.offset, error = %e, "skipping an undecodable __transaction_state key");
                            continue;
                        }
                    };
                    match record.value.as_ref().map(|v| records::decode_value(v)) {
                        None => {
                            txns.remove(&id);
                        }
                        Some(Ok(v)) => {
                            let meta = TxnMetadata {
                                transactional_id: id.clone(),
                                producer_id: v.producer_id,
                                producer_epoch: v.producer_epoch,
                                last_epoch: -1,
                                timeout_ms: v.timeout_ms,
                                state: v.state,
                                partitions: v.partitions,
                                start_ms: v.start_ms,
                                last_update_ms: v.last_update_ms,
                                pending: false,
                            };
                            txns.insert(id, meta);
                        }
                        Some(Err(e)) => {
                            tracing::warn!(partition, offset = record.offset, error = %e, "skipping an undecodable __transaction_state value");
                        }
                    }
                }
            });
        }
        txns.len()
    }
}
