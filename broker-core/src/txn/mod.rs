//! Transactions (KIP-98): the transaction coordinator and its log, `__transaction_state`.
//!
//! `records` is the topic's key and value format; `coordinator` the operations (InitProducerId,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, the markers, timeouts, Describe/ListTransactions)
//! on the cluster, and the replay of the topic at start. The coordinator of a transactional id is
//! the broker leading its `__transaction_state` partition; every state change is appended there
//! and replicated before it takes effect. Markers are appended in process to each partition's
//! leader (WriteTxnMarkers without the wire). All transactions live under one mutex that is
//! never held across an await; a transaction with a state write in flight answers
//! CONCURRENT_TRANSACTIONS, as Kafka's does.

pub mod coordinator;
pub mod records;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The transaction coordinator's log.
pub const TRANSACTION_STATE: &str = "__transaction_state";
/// Kafka's `transaction.state.log.num.partitions`.
pub const STATE_PARTITIONS: i32 = 50;
/// Kafka's `transaction.max.timeout.ms`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(900);
/// How often open transactions are checked against their timeout (Kafka's
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s; warren checks each
/// second, which costs one pass over the open transactions).
pub const ABORT_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// An epoch at or past this starts a new producer id (Kafka's `Short.MAX_VALUE - 1`).
const EPOCH_EXHAUSTED: i16 = i16::MAX - 1;

/// A transaction's state, with Kafka's ids and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
}

impl TxnState {
    pub const ALL: [TxnState; 7] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
    ];

    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
        }
    }

    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Kafka's name (DescribeTransactions, ListTransactions, the dashboard).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
        }
    }

    /// The prepared state a complete one follows (itself for the others).
    fn prepared_by(self) -> TxnState {
        match self {
            TxnState::CompleteCommit => TxnState::PrepareCommit,
            TxnState::CompleteAbort => TxnState::PrepareAbort,
            other => other,
        }
    }

    fn is_complete_or_empty(self) -> bool {
        matches!(self, TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort)
    }
}

/// What the coordinator knows of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump (a retried InitProducerId with it gets the same answer).
    pub last_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    /// When the current transaction began (its first added partition), -1 when none.
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// A state write is in flight: every other change answers CONCURRENT_TRANSACTIONS.
    pub pending: bool,
}

impl TxnMetadata {
    fn value(&self) -> records::TxnValue {
        records::TxnValue {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state,
            partitions: self.partitions.clone(),
            last_update_ms: self.last_update_ms,
            start_ms: self.start_ms,
        }
    }
}

/// One transaction as DescribeTransactions and ListTransactions show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDescription {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub state: TxnState,
    pub timeout_ms: i32,
    pub start_ms: i64,
    pub partitions: Vec<(String, i32)>,
    /// The broker coordinating it (-1 while its `__transaction_state` partition has no leader).
    pub coordinator: i32,
}

/// Every transactional id of the cluster.
#[derive(Debug, Default)]
pub struct Transactions {
    txns: Mutex<HashMap<String, TxnMetadata>>,
    /// Transactional writes (produce, TxnOffsetCommit) check and append under the shared side;
    /// a transaction becomes PrepareCommit/PrepareAbort under the exclusive side. So every write
    /// checked as part of an open transaction is in the log before its markers can be.
    gate: std::sync::RwLock<()>,
}

impl Transactions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, TxnMetadata>> {
        self.txns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Held while a transactional write is checked and appended.
    pub(crate) fn write_gate(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    fn close_gate(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|e| e.into_inner())
    }
}
