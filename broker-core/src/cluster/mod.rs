//! The embedded cluster: N logical brokers in one process and the controller that owns their
//! metadata (topics, replica assignment, leaders, leader epochs, ISR).
//!
//! Every metadata change goes through the controller lock, is persisted before it takes effect,
//! and is then pushed to the replicas it concerns. Lock order: the controller lock may take a
//! replica's lock, never the reverse (replicas report ISR changes as return values).

pub mod broker;
pub mod checkpoint;
pub mod config;
mod configs;
mod controller;
mod fetcher;
pub(crate) mod maintenance;
pub mod metadata;
mod shape;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use kafka_protocol::ResponseError;
use tokio::sync::Notify;

pub use broker::Broker;
pub use config::{ClusterConfig, SettingKind, TopicConfig, TopicSetting};
use metadata::{ClusterMetadata, PartitionMeta, TopicMeta};
pub(crate) use shape::Live;
pub use shape::{BrokerShape, ClusterShape, Offsets, PartitionShape, TopicShape};

use crate::group::Groups;
use crate::log::OpenState;
use crate::partition::{Assignment, Partition, ReplicaOf};

/// The name of Kafka's internal topic for committed offsets and group metadata.
pub const CONSUMER_OFFSETS: &str = "__consumer_offsets";

/// An admin operation refused, with Kafka's error code and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub code: ResponseError,
    pub message: String,
}

impl AdminError {
    pub fn new(code: ResponseError, message: impl Into<String>) -> AdminError {
        AdminError { code, message: message.into() }
    }
}

/// A topic clients may write to, or an internal one only the broker writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    User,
    Internal,
}

/// Where the message browser starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordPosition {
    Offset(i64),
    /// The first record at or after this time (Unix ms).
    Timestamp(i64),
}

/// A request to create a topic.
#[derive(Debug, Clone, Default)]
pub struct NewTopic {
    pub name: String,
    /// `None` for the cluster default.
    pub partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct Cluster {
    pub config: ClusterConfig,
    brokers: Vec<Arc<Broker>>,
    /// The controller's metadata: changed only under this lock (see [`MetadataGuard`]).
    metadata: Mutex<ClusterMetadata>,
    /// What readers see: the metadata as of the last change, published when the change (its
    /// persistence and its pushes to replicas) is done. Readers never wait for a change, so a
    /// slow fsync of `cluster-metadata.json` stalls no Metadata request.
    published: RwLock<Arc<ClusterMetadata>>,
    activity: Arc<Notify>,
    /// Seeded from the clock so ids stay unique across restarts without being persisted.
    next_producer_id: AtomicI64,
    /// Consumer groups and their committed offsets (see `crate::group`).
    pub(crate) groups: Groups,
    /// Transactional ids and their transactions (see `crate::txn`).
    pub(crate) transactions: crate::txn::Transactions,
    /// The isolation level each client id last fetched with (true: read_committed), so the
    /// monitor can measure a group's lag against what its consumers can read.
    fetch_isolation: Mutex<std::collections::HashMap<String, bool>>,
    /// Request and traffic statistics (for `/metrics`).
    pub stats: crate::stats::Stats,
    /// Open client connections, bounded by `limits.max_connections` (and per address).
    pub connections: Arc<crate::net::limits::ConnectionSlots>,
    /// The last flush-and-checkpoint error of each broker, while it lasts.
    storage_errors: Mutex<std::collections::BTreeMap<i32, String>>,
    /// SASL users and their SCRAM credentials (`DATA_DIR/security/users.json`).
    pub users: crate::security::Users,
}

impl Cluster {
    /// Opens the cluster in `config.data_dir`: loads its metadata (or starts a new cluster) and
    /// opens, recovering as needed, every replica of every broker. `addrs[k]` is broker k+1's
    /// advertised address (its listener's local address).
    pub fn open(config: ClusterConfig, addrs: &[SocketAddr]) -> Result<Arc<Cluster>, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        assert_eq!(addrs.len(), config.brokers as usize, "one address per broker");
        std::fs::create_dir_all(&config.data_dir)?;
        let metadata = match ClusterMetadata::load(&config.data_dir)? {
            Some(md) => md,
            None => {
                let id = metadata::new_topic_id(0);
                ClusterMetadata { cluster_id: base64_id(&id), ..ClusterMetadata::default() }
            }
        };
        let brokers: Vec<Arc<Broker>> = (1..=config.brokers)
            .zip(addrs)
            .map(|(id, addr)| Arc::new(Broker::new(id, *addr, config.data_dir.join(format!("broker-{id}")))))
            .collect();
        let stats = crate::stats::Stats::new(config.brokers as usize);
        let users = crate::security::Users::open(&config.data_dir)?;
        let configured: Vec<(String, String)> =
            config.security.users.iter().map(|(name, secret)| (name.clone(), secret.0.clone())).collect();
        users.set_passwords(&configured)?;
        let cluster = Arc::new(Cluster {
            config,
            brokers,
            published: RwLock::new(Arc::new(metadata.clone())),
            metadata: Mutex::new(metadata),
            activity: Arc::new(Notify::new()),
            next_producer_id: AtomicI64::new(maintenance::now_ms().saturating_mul(1024)),
            groups: Groups::default(),
            transactions: crate::txn::Transactions::default(),
            fetch_isolation: Mutex::default(),
            stats,
            connections: Arc::default(),
            storage_errors: Mutex::default(),
            users,
        });
        cluster.open_replicas()?;
        cluster.ensure_offsets_topic()?;
        let report = cluster.load_groups();
        tracing::info!(
            groups = report.groups,
            offsets = report.offsets,
            records = report.records,
            skipped = report.skipped,
            "loaded consumer groups from __consumer_offsets"
        );
        let loaded = cluster.load_transactions();
        if loaded > 0 {
            tracing::info!(transactional_ids = loaded, "loaded transactions from __transaction_state");
        }
        Ok(cluster)
    }

    fn open_replicas(&self) -> Result<(), OpenError> {
        let md = self.metadata();
        for broker in &self.brokers {
            std::fs::create_dir_all(broker.dir())?;
            let marker = broker.dir().join(checkpoint::CLEAN_SHUTDOWN);
            let clean = marker.exists();
            let recovery = checkpoint::read(broker.dir(), checkpoint::RECOVERY_POINT)?;
            let hws = checkpoint::read(broker.dir(), checkpoint::HIGH_WATERMARK)?;
            let starts = checkpoint::read(broker.dir(), checkpoint::LOG_START)?;
            for topic in md.topics.values() {
                for (index, pm) in topic.partitions.iter().enumerate() {
                    if !pm.replicas.contains(&broker.id) {
                        continue;
                    }
                    let index = index as i32;
                    let key = (topic.name.clone(), index);
                    let state = OpenState {
                        clean,
                        recovery_point: recovery.get(&key).copied().unwrap_or(0),
                        log_start_offset: starts.get(&key).copied().unwrap_or(0),
                    };
                    let hw = hws.get(&key).copied().unwrap_or(0);
                    self.open_replica(broker, topic, index, state, hw)?;
                }
            }
            if clean {
                std::fs::remove_file(&marker)?;
            }
        }
        self.settle_at_open()?;
        Ok(())
    }

    fn open_replica(
        &self,
        broker: &Broker,
        topic: &TopicMeta,
        index: i32,
        state: OpenState,
        hw: i64,
    ) -> Result<(), OpenError> {
        let dir = broker.partition_dir(&topic.name, index);
        let topic_config = self.topic_config(&topic.config);
        let (partition, report) = Partition::open(
            ReplicaOf { topic: Arc::from(topic.name.as_str()), index, broker_id: broker.id },
            &dir,
            topic_config.log.clone(),
            state,
            hw,
            Arc::clone(&self.activity),
        )?;
        for (path, recovered) in &report.truncated {
            tracing::warn!(
                broker = broker.id,
                segment = %path.display(),
                truncated_bytes = recovered.truncated_bytes,
                valid_batches = recovered.batches,
                reason = recovered.reason.as_deref().unwrap_or("torn tail"),
                "recovery truncated a segment"
            );
        }
        for path in &report.dropped_segments {
            tracing::warn!(broker = broker.id, segment = %path.display(), "recovery dropped a segment after a cut");
        }
        configs::apply_topic_config(&partition, &topic_config);
        broker.add_partition(Arc::new(partition));
        Ok(())
    }

    /// Creates `__consumer_offsets` on first start: 50 partitions, compacted, replicated like
    /// Kafka's (`offsets.topic.replication.factor` = 3, or fewer brokers).
    fn ensure_offsets_topic(&self) -> Result<(), OpenError> {
        if self.has_topic(CONSUMER_OFFSETS) {
            return Ok(());
        }
        let config = BTreeMap::from([
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("segment.bytes".to_string(), (100 * 1024 * 1024).to_string()),
        ]);
        let request = NewTopic {
            name: CONSUMER_OFFSETS.to_string(),
            partitions: Some(crate::group::OFFSETS_PARTITIONS),
            replication_factor: Some(self.config.brokers.min(3)),
            config,
        };
        self.create_topic(&request, false)
            .map_err(|e| OpenError::Config(format!("cannot create {CONSUMER_OFFSETS}: {e}")))?;
        Ok(())
    }

    /// The controller lock, for a change (or a read that a change must follow atomically).
    pub(crate) fn lock_metadata(&self) -> MetadataGuard<'_> {
        MetadataGuard {
            guard: self.metadata.lock().unwrap_or_else(|e| e.into_inner()),
            published: &self.published,
            changed: false,
        }
    }

    /// The current metadata, as of the last completed change.
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        Arc::clone(&self.published.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// A producer id never handed out before by this data dir.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn has_topic(&self, name: &str) -> bool {
        self.metadata().topics.contains_key(name)
    }

    /// Whether `name` exists, and whether it is one of warren's internal topics.
    pub fn topic_kind(&self, name: &str) -> Option<TopicKind> {
        let md = self.metadata();
        let topic = md.topics.get(name)?;
        Some(if topic.internal { TopicKind::Internal } else { TopicKind::User })
    }

    pub fn cluster_id(&self) -> String {
        self.metadata().cluster_id.clone()
    }

    pub fn brokers(&self) -> &[Arc<Broker>] {
        &self.brokers
    }

    pub fn broker(&self, id: i32) -> Option<&Arc<Broker>> {
        usize::try_from(id - 1).ok().and_then(|i| self.brokers.get(i))
    }

    /// The controller is the lowest-numbered broker that is up (-1 when none is).
    pub fn controller_id(&self) -> i32 {
        self.brokers.iter().find(|b| b.is_up()).map_or(-1, |b| b.id)
    }

    /// Woken on every append and high-watermark move anywhere in the cluster.
    pub fn activity(&self) -> &Arc<Notify> {
        &self.activity
    }

    /// Notes the isolation level a client fetched with (bounded: the map starts over past
    /// 10,000 client ids).
    pub(crate) fn note_fetch_isolation(&self, client_id: &str, read_committed: bool) {
        let mut seen = self.fetch_isolation.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(client_id) == Some(&read_committed) {
            return;
        }
        if seen.len() >= 10_000 {
            seen.clear();
        }
        seen.insert(client_id.to_string(), read_committed);
    }

    /// Whether `client_id` last fetched read_committed (`None`: it has not fetched).
    pub fn client_reads_committed(&self, client_id: &str) -> Option<bool> {
        self.fetch_isolation.lock().unwrap_or_else(|e| e.into_inner()).get(client_id).copied()
    }

    /// The effective settings of a topic: cluster defaults overlaid with its overrides.
    pub fn topic_config(&self, overrides: &BTreeMap<String, String>) -> TopicConfig {
        TopicConfig::resolve_with(&self.config, &self.metadata().broker_config, overrides)
            .unwrap_or_else(|_| TopicConfig::defaults(&self.config))
    }

    /// The replica of `topic`/`index` on `broker`, when that broker hosts one.
    pub fn replica(&self, broker: i32, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.broker(broker)?.partition(topic, index)
    }

    /// The leader replica of a partition, if it has a leader that is up (and the replica has
    /// taken the role: during an election there may be a moment with none).
    pub fn leader_replica(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let leader = self.metadata().partition(topic, index)?.leader;
        let broker = self.broker(leader)?;
        if !broker.is_up() {
            return None;
        }
        broker.partition(topic, index).filter(|r| r.role() == crate::partition::Role::Leader)
    }

    /// When the record at `offset` of a partition was written (see [`Partition::timestamp_at`]).
    pub fn record_timestamp(&self, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        self.leader_replica(topic, partition)?.timestamp_at(offset)
    }

    /// Up to `limit` records of a partition from `offset` (or from the first record at or after
    /// `timestamp` ms), below the high watermark: the dashboard's message browser.
    pub fn read_records(
        &self,
        topic: &str,
        partition: i32,
        from: RecordPosition,
        limit: usize,
    ) -> Result<Vec<kafka_protocol::records::Record>, AdminError> {
        let replica = self.leader_replica(topic, partition).ok_or_else(|| {
            AdminError::new(
                ResponseError::LeaderNotAvailable,
                format!("{topic}-{partition} has no leader (or does not exist)"),
            )
        })?;
        let (start, end) = (replica.log_start_offset(), replica.high_watermark());
        let mut offset = match from {
            RecordPosition::Offset(o) => o.clamp(start, end),
            RecordPosition::Timestamp(ts) => replica
                .offset_for_timestamp(ts)
                .map_err(|e| AdminError::new(e, "cannot search the log by time"))?
                .map_or(end, |(o, _)| o),
        };
        let first = offset;
        let mut out = Vec::new();
        while out.len() < limit && offset < end {
            let bytes =
                replica.read_committed(offset, 1 << 20).map_err(|e| AdminError::new(e, "cannot read the log"))?;
            if bytes.is_empty() {
                break;
            }
            let batches = crate::log::records::decode_batches(bytes, replica.decode_limit())
                .map_err(|e| AdminError::new(ResponseError::CorruptMessage, format!("cannot decode a batch: {e}")))?;
            let before = offset;
            for record in batches.into_iter().flat_map(|b| b.records) {
                offset = offset.max(record.offset + 1);
                if record.offset >= first && !record.control && out.len() < limit {
                    out.push(record);
                }
            }
            if offset == before {
                break;
            }
        }
        Ok(out)
    }

    /// Appends one record to a partition's leader (the dashboard's produce form), acks=all.
    /// Returns its offset.
    pub async fn produce_record(
        &self,
        topic: &str,
        partition: i32,
        key: Option<bytes::Bytes>,
        value: Option<bytes::Bytes>,
        headers: Vec<(String, Option<bytes::Bytes>)>,
    ) -> Result<i64, AdminError> {
        let replica = self.leader_replica(topic, partition).ok_or_else(|| {
            AdminError::new(
                ResponseError::LeaderNotAvailable,
                format!("{topic}-{partition} has no leader (or does not exist)"),
            )
        })?;
        let record = crate::log::batch::PlainRecord { key, value, headers };
        let buf = crate::log::batch::encode_plain([record], maintenance::now_ms()).map_err(|e| {
            AdminError::new(ResponseError::UnknownServerError, format!("cannot encode the record: {e}"))
        })?;
        let appended = replica
            .append_as_leader(&buf, -1)
            .map_err(|e| AdminError::new(e.code, format!("the append was refused: {e}")))?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        if let Some(e) = replica.await_replication(&appended, deadline).await {
            return Err(AdminError::new(
                e,
                format!(
                    "the record was appended at offset {} but not acknowledged by the ISR: {e}",
                    appended.base_offset
                ),
            ));
        }
        Ok(appended.base_offset)
    }

    /// Pushes a partition's metadata to each of its replicas on brokers that are up.
    fn push_assignment(&self, topic: &str, index: i32, pm: &PartitionMeta) {
        let committed = pm
            .replicas
            .iter()
            .filter_map(|id| self.replica(*id, topic, index))
            .map(|r| r.high_watermark())
            .max()
            .unwrap_or(0);
        let assignment = Assignment {
            leader: pm.leader,
            leader_epoch: pm.leader_epoch,
            replicas: pm.replicas.clone(),
            isr: pm.isr.clone(),
            committed,
        };
        for id in &pm.replicas {
            let Some(broker) = self.broker(*id) else {
                continue;
            };
            let Some(replica) = broker.partition(topic, index) else {
                continue;
            };
            if broker.is_up() {
                replica.apply_assignment(&assignment);
            } else {
                replica.apply_assignment(&Assignment { leader: -1, ..assignment.clone() });
            }
        }
    }

    /// Creates a topic (see [`Cluster::create_topics`]).
    pub fn create_topic(&self, request: &NewTopic, validate_only: bool) -> Result<TopicMeta, AdminError> {
        self.create_topics(std::slice::from_ref(request), validate_only)
            .pop()
            .unwrap_or_else(|| Err(AdminError::new(ResponseError::UnknownServerError, "no result for the topic")))
    }

    /// Creates topics, one result each. Each is validated (name, partitions within
    /// `max_partitions_per_request` and the cluster within `max_partitions`, replication factor,
    /// config) before anything is allocated for it, assigned over the brokers that are up, and
    /// opened on disk; then all of them are recorded with one metadata write and pushed to their
    /// replicas. A topic whose replicas cannot be opened is rolled back (its directories go) and
    /// reported; a failed metadata write rolls back every topic of the call.
    pub fn create_topics(&self, requests: &[NewTopic], validate_only: bool) -> Vec<Result<TopicMeta, AdminError>> {
        let up: Vec<i32> = self.brokers.iter().filter(|b| b.is_up()).map(|b| b.id).collect();
        let mut md = self.lock_metadata();
        let mut total: usize = md.topics.values().map(|t| t.partitions.len()).sum();
        let mut results = Vec::with_capacity(requests.len());
        let mut created = Vec::new();
        for request in requests {
            let result = self.plan_topic(&md, request, &up, total).and_then(|topic| {
                if validate_only {
                    return Ok(topic);
                }
                self.open_new_partitions(&topic, 0).inspect_err(|_| self.remove_topic_dirs(&topic))?;
                md.topics_created += 1;
                md.topics.insert(topic.name.clone(), topic.clone());
                created.push(topic.name.clone());
                Ok(topic)
            });
            if let Ok(topic) = &result {
                total += topic.partitions.len();
            }
            results.push(result);
        }
        if created.is_empty() {
            return results;
        }
        if let Err(e) = self.persist(&md) {
            for name in &created {
                if let Some(topic) = md.topics.remove(name) {
                    self.remove_topic_dirs(&topic);
                    md.topics_created -= 1;
                }
            }
            return results.into_iter().map(|r| r.and(Err(e.clone()))).collect();
        }
        for topic in results.iter().flatten() {
            for (index, pm) in topic.partitions.iter().enumerate() {
                self.push_assignment(&topic.name, index as i32, pm);
            }
            tracing::info!(
                topic = %topic.name,
                partitions = topic.partitions.len(),
                replication_factor = topic.partitions.first().map_or(0, |p| p.replicas.len()),
                "created topic"
            );
        }
        results
    }

    /// Validates a topic request against the metadata and assigns its replicas.
    fn plan_topic(
        &self,
        md: &ClusterMetadata,
        request: &NewTopic,
        up: &[i32],
        total_partitions: usize,
    ) -> Result<TopicMeta, AdminError> {
        metadata::validate_topic_name(&request.name)
            .map_err(|m| AdminError::new(ResponseError::InvalidTopicException, m))?;
        let internal = request.name == CONSUMER_OFFSETS || request.name == crate::txn::TRANSACTION_STATE;
        let partitions = request.partitions.unwrap_or(self.config.default_partitions);
        self.check_new_partitions(partitions, total_partitions)?;
        let topic_config = TopicConfig::resolve_with(&self.config, &md.broker_config, &request.config)
            .map_err(|m| AdminError::new(ResponseError::InvalidConfig, m))?;
        let rf =
            request.replication_factor.unwrap_or(self.config.default_replication_factor.min(up.len() as i32).max(1));
        if rf < 1 || rf as usize > up.len() {
            return Err(AdminError::new(
                ResponseError::InvalidReplicationFactor,
                format!("replication factor {rf} is not between 1 and the {} brokers that are up", up.len()),
            ));
        }
        if topic_config.min_insync_replicas > rf as usize {
            tracing::info!(topic = %request.name, "min.insync.replicas is above the replication factor: acks=all will fail");
        }
        if md.topics.contains_key(&request.name) {
            return Err(AdminError::new(
                ResponseError::TopicAlreadyExists,
                format!("topic '{}' already exists", request.name),
            ));
        }
        if let Some(other) = md.topics.keys().find(|t| t.replace('.', "_") == request.name.replace('.', "_")) {
            return Err(AdminError::new(
                ResponseError::InvalidTopicException,
                format!("topic '{}' collides with existing topic '{other}' ('.' and '_' are interchangeable in metric names)", request.name),
            ));
        }
        let start = md.topics_created as usize;
        let assignment = metadata::assign_replicas(up, partitions as usize, rf as usize, start, 0);
        Ok(TopicMeta {
            name: request.name.clone(),
            id: metadata::new_topic_id(md.topics_created + 1),
            internal,
            config: request.config.clone(),
            partitions: assignment
                .into_iter()
                .map(|replicas| PartitionMeta { leader: replicas[0], leader_epoch: 0, isr: replicas.clone(), replicas })
                .collect(),
        })
    }

    /// `added` new partitions are within `max_partitions_per_request` and keep the cluster, now
    /// at `total`, within `max_partitions`.
    fn check_new_partitions(&self, added: i32, total: usize) -> Result<(), AdminError> {
        let limits = &self.config.limits;
        if added < 1 {
            return Err(AdminError::new(
                ResponseError::InvalidPartitions,
                format!("number of partitions must be at least 1, got {added}"),
            ));
        }
        if added as usize > limits.max_partitions_per_request {
            return Err(AdminError::new(
                ResponseError::InvalidPartitions,
                format!(
                    "{added} partitions in one request is more than max_partitions_per_request ({})",
                    limits.max_partitions_per_request
                ),
            ));
        }
        if total + added as usize > limits.max_partitions {
            return Err(AdminError::new(
                ResponseError::PolicyViolation,
                format!(
                    "the cluster would hold {} partitions, more than max_partitions ({})",
                    total + added as usize,
                    limits.max_partitions
                ),
            ));
        }
        Ok(())
    }

    /// Removes the replicas and directories of a topic that was opened but not recorded.
    fn remove_topic_dirs(&self, topic: &TopicMeta) {
        for broker in &self.brokers {
            broker.remove_topic(&topic.name);
            for index in 0..topic.partitions.len() as i32 {
                let dir = broker.partition_dir(&topic.name, index);
                if dir.exists() {
                    if let Err(e) = std::fs::remove_dir_all(&dir) {
                        tracing::warn!(dir = %dir.display(), error = %e, "could not remove a topic directory after a failed creation");
                    }
                }
            }
        }
    }

    fn open_new_partitions(&self, topic: &TopicMeta, from: usize) -> Result<(), AdminError> {
        for (index, pm) in topic.partitions.iter().enumerate().skip(from) {
            for id in &pm.replicas {
                let Some(broker) = self.broker(*id) else {
                    continue;
                };
                let dir = broker.partition_dir(&topic.name, index as i32);
                // A leftover directory of an earlier topic with this name must not leak its data.
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).map_err(storage_error)?;
                }
                self.open_replica(broker, topic, index as i32, OpenState { clean: true, ..OpenState::default() }, 0)
                    .map_err(|e| AdminError::new(ResponseError::KafkaStorageError, e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Deletes a topic and its data on every broker.
    pub fn delete_topic(&self, name: &str) -> Result<(), AdminError> {
        let mut md = self.lock_metadata();
        let Some(topic) = md.topics.remove(name) else {
            return Err(AdminError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("topic '{name}' does not exist"),
            ));
        };
        if topic.internal {
            md.topics.insert(topic.name.clone(), topic);
            return Err(AdminError::new(
                ResponseError::InvalidTopicException,
                format!("topic '{name}' is internal and cannot be deleted"),
            ));
        }
        self.persist(&md)?;
        drop(md);
        for broker in &self.brokers {
            for replica in broker.remove_topic(name) {
                replica.apply_assignment(&Assignment {
                    leader: -1,
                    leader_epoch: i32::MAX,
                    replicas: vec![],
                    isr: vec![],
                    committed: 0,
                });
                let dir = broker.partition_dir(name, replica.index);
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "could not remove a deleted topic's directory");
                }
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    /// Raises a topic's partition count to `count`.
    pub fn create_partitions(&self, name: &str, count: i32, validate_only: bool) -> Result<(), AdminError> {
        let mut md = self.lock_metadata();
        let Some(topic) = md.topics.get(name) else {
            return Err(AdminError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("topic '{name}' does not exist"),
            ));
        };
        let current = topic.partitions.len() as i32;
        if count <= current {
            return Err(AdminError::new(
                ResponseError::InvalidPartitions,
                format!("topic '{name}' has {current} partitions; the new count {count} must be larger"),
            ));
        }
        let rf = topic.partitions.first().map_or(1, |p| p.replicas.len());
        let total: usize = md.topics.values().map(|t| t.partitions.len()).sum();
        self.check_new_partitions(count - current, total)?;
        let up: Vec<i32> = self.brokers.iter().filter(|b| b.is_up()).map(|b| b.id).collect();
        if rf > up.len() {
            return Err(AdminError::new(
                ResponseError::InvalidReplicationFactor,
                format!("replication factor {rf} needs more than the {} brokers that are up", up.len()),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let start = md.topics_created as usize;
        let added = metadata::assign_replicas(&up, (count - current) as usize, rf, start, current as usize);
        let mut grown = md.topics.get(name).expect("checked above").clone();
        grown.partitions.extend(added.into_iter().map(|replicas| PartitionMeta {
            leader: replicas[0],
            leader_epoch: 0,
            isr: replicas.clone(),
            replicas,
        }));
        // Open the new replicas first and record them after, as a new topic is.
        self.open_new_partitions(&grown, current as usize)?;
        let previous = md.topics.insert(name.to_string(), grown.clone());
        if let Err(e) = self.persist(&md) {
            if let Some(previous) = previous {
                md.topics.insert(name.to_string(), previous);
            }
            for broker in &self.brokers {
                for index in current..count {
                    broker.remove_partition(name, index);
                    let _ = std::fs::remove_dir_all(broker.partition_dir(name, index));
                }
            }
            return Err(e);
        }
        for (index, pm) in grown.partitions.iter().enumerate().skip(current as usize) {
            self.push_assignment(name, index as i32, pm);
        }
        Ok(())
    }

    fn persist(&self, md: &ClusterMetadata) -> Result<(), AdminError> {
        md.save(&self.config.data_dir).map_err(storage_error)
    }
}

fn storage_error(e: std::io::Error) -> AdminError {
    AdminError::new(ResponseError::KafkaStorageError, format!("storage error: {e}"))
}

/// Kafka prints cluster ids as unpadded URL-safe base64 of 16 bytes.
fn base64_id(id: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    let mut bits = 0u32;
    let mut nbits = 0;
    for byte in id {
        bits = (bits << 8) | u32::from(*byte);
        nbits += 8;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 63) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    out
}

/// The controller lock. Mutating through it marks the metadata changed, and the change is
/// published to readers when the guard drops, after everything done under it.
pub(crate) struct MetadataGuard<'a> {
    guard: MutexGuard<'a, ClusterMetadata>,
    published: &'a RwLock<Arc<ClusterMetadata>>,
    changed: bool,
}

impl std::ops::Deref for MetadataGuard<'_> {
    type Target = ClusterMetadata;
    fn deref(&self) -> &ClusterMetadata {
        &self.guard
    }
}

impl std::ops::DerefMut for MetadataGuard<'_> {
    fn deref_mut(&mut self) -> &mut ClusterMetadata {
        self.changed = true;
        &mut self.guard
    }
}

impl Drop for MetadataGuard<'_> {
    fn drop(&mut self) {
        if self.changed {
            let snapshot = Arc::new(self.guard.clone());
            *self.published.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
        }
    }
}

/// Why the cluster could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid cluster configuration: {0}")]
    Config(String),
    #[error("cluster storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("partition log: {0}")]
    Log(#[from] crate::log::LogError),
}
