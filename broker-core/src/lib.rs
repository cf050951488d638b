//! warren's embedded Kafka-compatible broker.
//!
//! `log` stores record batches in Kafka's on-disk layout; `partition` keeps replica state;
//! `cluster` owns the logical brokers and their metadata; `group` is the group coordinator with
//! its committed offsets in `__consumer_offsets`; `protocol` decodes and encodes the wire format
//! without doing I/O; `net` serves connections. This crate knows nothing of `server`.

pub mod cluster;
pub mod group;
pub mod log;
pub mod net;
pub mod partition;
pub mod protocol;
pub mod security;
pub mod stats;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use cluster::{Cluster, ClusterConfig};

/// A running embedded cluster: the brokers' listeners plus the background tasks.
pub struct Embedded {
    pub cluster: Arc<Cluster>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Embedded {
    /// Opens the cluster and serves broker k+1 on `listeners[k]`.
    pub fn start(config: ClusterConfig, listeners: Vec<TcpListener>) -> Result<Embedded, cluster::OpenError> {
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
