//! warren's embedded Kafka-compatible broker.
//!
//! `log` stores record batches in Kafka's on-disk layout; `partition` keeps replica state;
//! `cluster` owns the logical brokers and their metadata; `group` is the group coordinator with
//! its committed offsets in `__consumer_offsets`; `protocol` decodes and encodes the wire format
//! without doing I/O; `net` serves connections. This crate knows nothing of `server`.
//!
//! The public API is small and flat: `Embedded` to run a cluster, `Cluster` and its plain-data
//! answers (`Cluster::shape`, groups, offsets, records), the admin and group operations' types,
//! `security` (listener settings and the SCRAM client), and `formats` (Kafka's byte formats, for
//! readers of the wire and of `__consumer_offsets`). Everything else is private.

mod cluster;
mod group;
mod log;
mod net;
mod partition;
mod protocol;
pub mod security;
mod stats;
mod txn;

/// Kafka's byte formats: record batches and transaction markers, the `__consumer_offsets` and
/// `__transaction_state` keys and values, and request framing. Pure functions over bytes, every
/// count and size bounded.
pub mod formats {
    pub use crate::group::records::{
        decode_key, decode_offset_value, group_key, offset_key, offset_value, OffsetValue, RecordKey,
    };
    pub use crate::log::batch::{
        control_type, encode_marker, encode_plain, split_batches, BatchHeader, ControlType, PlainRecord,
    };
    pub use crate::log::records::{decode_batch, decode_batches, validate_records, DEFAULT_MAX_UNCOMPRESSED};
    pub use crate::protocol::decode_request;
    pub use crate::txn::records::{
        decode_key as decode_txn_key, decode_value as decode_txn_value, key as txn_key, value as txn_value, TxnValue,
    };
}

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use cluster::{
    AdminError, BrokerShape, Cluster, ClusterConfig, ClusterShape, NewTopic, Offsets, OpenError, PartitionShape,
    RecordPosition, SettingKind, TopicConfig, TopicSetting, TopicShape, CONSUMER_OFFSETS,
};
pub use group::coordinator::{Committer, OffsetCommit};
pub use group::{JoinRequest, ResetTo};
pub use net::{start_broker, MAX_UNAUTHENTICATED_BYTES};
pub use stats::LATENCY_BUCKETS;
pub use txn::{TxnDescription, TxnState, TRANSACTION_STATE};

/// A running embedded cluster: the brokers' listeners plus the background tasks.
pub struct Embedded {
    pub cluster: Arc<Cluster>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Embedded {
    /// Opens the cluster and serves broker k+1 on `listeners[k]`.
    pub fn start(config: ClusterConfig, listeners: Vec<TcpListener>) -> Result<Embedded, OpenError> {
        let addrs: Vec<SocketAddr> = listeners.iter().map(TcpListener::local_addr).collect::<Result<_, _>>()?;
        let cluster = Cluster::open(config, &addrs)?;
        let mut tasks = cluster.spawn_background();
        for (listener, broker) in listeners.into_iter().zip(1..) {
            tasks.push(net::spawn_listener(Arc::clone(&cluster), broker, listener));
        }
        Ok(Embedded { cluster, tasks })
    }

    /// Stops every task, flushes every log and writes the clean-shutdown markers.
    pub async fn shutdown(self) {
        for broker in self.cluster.brokers() {
            broker.close_connections();
        }
        for task in &self.tasks {
            task.abort();
        }
        let cluster = Arc::clone(&self.cluster);
        let _ = tokio::task::spawn_blocking(move || cluster.shutdown()).await;
    }
}
