//! One logical broker: node id, advertised address, log dir, the replicas it hosts, and whether it
//! is up. Stopping a broker closes its listener and connections (through `stopped`), never its
//! data.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use super::checkpoint;
use crate::partition::Partition;

type Replicas = HashMap<String, BTreeMap<i32, Arc<Partition>>>;

#[derive(Debug)]
pub struct Broker {
    pub id: i32,
    pub addr: SocketAddr,
    dir: PathBuf,
    up: AtomicBool,
    /// A failover drill's fault: the broker stays up but its replica fetcher copies nothing.
    replication_paused: AtomicBool,
    replicas: RwLock<Replicas>,
    /// `true` while the broker is stopped; listeners and connections watch it.
    stopped: watch::Sender<bool>,
}

impl Broker {
    pub fn new(id: i32, addr: SocketAddr, dir: PathBuf) -> Broker {
        Broker {
            id,
            addr,
            dir,
            up: AtomicBool::new(true),
            replication_paused: AtomicBool::new(false),
            replicas: RwLock::new(Replicas::new()),
            stopped: watch::channel(false).0,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Release);
        self.stopped.send_replace(!up);
    }

    /// Pauses or resumes this broker's replica fetcher (a stuck follower for failover drills and
    /// tests: it stays up, falls behind, and leaves the ISR after `replica_lag_time_max`).
    pub fn set_replication_paused(&self, paused: bool) {
        self.replication_paused.store(paused, Ordering::Release);
    }

    pub fn replication_paused(&self) -> bool {
        self.replication_paused.load(Ordering::Acquire)
    }

    /// Closes the listener and every connection without marking the broker down (process shutdown).
    pub fn close_connections(&self) {
        self.stopped.send_replace(true);
    }

    /// A receiver that turns `true` when the broker is stopped.
    pub fn watch_stopped(&self) -> watch::Receiver<bool> {
        self.stopped.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Replicas> {
        self.replicas.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Replicas> {
        self.replicas.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.read().get(topic)?.get(&index).cloned()
    }

    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.read().values().flat_map(|m| m.values().cloned()).collect()
    }

    pub(crate) fn add_partition(&self, partition: Arc<Partition>) {
        self.write().entry(partition.topic.to_string()).or_default().insert(partition.index, partition);
    }

    pub(crate) fn remove_partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.write().get_mut(topic)?.remove(&index)
    }

    pub(crate) fn remove_topic(&self, topic: &str) -> Vec<Arc<Partition>> {
        self.write().remove(topic).map(|m| m.into_values().collect()).unwrap_or_default()
    }

    /// Directory of one replica's log: `{topic}-{partition}`.
    pub fn partition_dir(&self, topic: &str, index: i32) -> PathBuf {
        self.dir.join(format!("{topic}-{index}"))
    }

    /// Writes the log dir's `log-start-offset-checkpoint` alone (after DeleteRecords, so deleted
    /// records stay deleted across a crash).
    pub fn checkpoint_log_starts(&self) -> std::io::Result<()> {
        let starts: Vec<_> =
            self.partitions().iter().map(|p| (p.topic.to_string(), p.index, p.log_start_offset())).collect();
        checkpoint::write(&self.dir, checkpoint::LOG_START, &starts)
    }

    /// Fsyncs every log and writes the log dir's checkpoints.
    pub fn checkpoint(&self) -> std::io::Result<()> {
        let partitions = self.partitions();
        let mut recovery = Vec::with_capacity(partitions.len());
        let mut hws = Vec::with_capacity(partitions.len());
        let mut starts = Vec::with_capacity(partitions.len());
        for p in &partitions {
            let recovery_point = p.flush()?;
            recovery.push((p.topic.to_string(), p.index, recovery_point));
            hws.push((p.topic.to_string(), p.index, p.high_watermark()));
            starts.push((p.topic.to_string(), p.index, p.log_start_offset()));
        }
        checkpoint::write(&self.dir, checkpoint::RECOVERY_POINT, &recovery)?;
        checkpoint::write(&self.dir, checkpoint::HIGH_WATERMARK, &hws)?;
        checkpoint::write(&self.dir, checkpoint::LOG_START, &starts)
    }
}
