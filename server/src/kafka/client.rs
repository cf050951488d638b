//! The `Client`: bootstrap, a lazily opened connection per broker, the metadata cache, routing
//! (any broker, the controller, a partition's leader, a group's coordinator) and the retry loop.
//!
//! Retries are bounded by time, not by faith: a retriable failure (a moved leader or coordinator,
//! a coordinator still loading, a timeout, a dropped connection) waits a doubling backoff capped
//! at `retry_backoff_max`, refreshes what the error says is stale, and tries again until
//! `retry_timeout` has passed; then the last error is returned. The cloneable handle shares one
//! pool and one cache; no lock is held across an await except a per-address slot while that
//! address is being connected.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::{Request, StrBytes};

use super::connection::{api_key, Connection};
use super::error::{Error, Recovery, Result};
use super::metadata::Metadata;

/// How to reach a cluster and how patient to be with it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port` addresses tried in order until one answers.
    pub bootstrap_servers: Vec<String>,
    pub client_id: String,
    /// Per request, on top of any long-poll wait the request itself asks for.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// How long one operation keeps retrying before it reports its last error.
    pub retry_timeout: Duration,
    /// TLS and SASL for every connection.
    pub security: Arc<super::security::ClientSecurity>,
    /// Partitions per ListOffsets, Produce or Fetch request: brokers bound a request's entries
    /// (warren at `max_partitions_per_request`), so a leader of more gets several requests.
    pub partitions_per_request: usize,
    /// Fetch read_committed (Kafka's `isolation.level`): up to the last stable offset, without
    /// the records of aborted transactions.
    pub read_committed: bool,
}

impl ClientConfig {
    pub fn new<S: Into<String>>(bootstrap_servers: impl IntoIterator<Item = S>) -> ClientConfig {
        ClientConfig {
            bootstrap_servers: bootstrap_servers.into_iter().map(Into::into).collect(),
            client_id: "warren".to_string(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            retry_timeout: Duration::from_secs(30),
            security: Arc::default(),
            partitions_per_request: 1000,
            read_committed: false,
        }
    }

    /// Parses Kafka's comma-separated `--bootstrap-server` list.
    pub fn from_list(list: &str) -> ClientConfig {
        ClientConfig::new(list.split(',').map(str::trim).filter(|s| !s.is_empty()))
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>;

struct Inner {
    config: ClientConfig,
    /// One slot per `host:port`; a slot's lock is held only while that address is connected.
    connections: Mutex<HashMap<String, Slot>>,
    metadata: Mutex<Arc<Metadata>>,
    /// Set by a failure that suggests leadership moved; the next routing refreshes first.
    stale: AtomicBool,
    coordinators: Mutex<HashMap<String, i32>>,
}

/// A Kafka protocol client; clones share connections and caches.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// A client that connects on first use.
    pub fn new(config: ClientConfig) -> Client {
        Client {
            inner: Arc::new(Inner {
                config,
                connections: Mutex::new(HashMap::new()),
                metadata: Mutex::new(Arc::new(Metadata::default())),
                stale: AtomicBool::new(true),
                coordinators: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A client that has already read the cluster's metadata, so an unreachable cluster is
    /// reported here ("cannot reach any bootstrap server (...)").
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        if config.bootstrap_servers.is_empty() {
            return Err(Error::Invalid("no bootstrap server given".into()));
        }
        let client = Client::new(config);
        client.metadata(Some(&[])).await?;
        Ok(client)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The latest metadata known, without asking (empty before the first refresh).
    pub fn cached_metadata(&self) -> Arc<Metadata> {
        Arc::clone(&lock(&self.inner.metadata))
    }

    /// Asks the cluster for `topics` (`None`: every topic) and folds the answer into the cache.
    /// Missing topics come back with UNKNOWN_TOPIC_OR_PARTITION; nothing is auto-created.
    pub async fn metadata(&self, topics: Option<&[&str]>) -> Result<Metadata> {
        let build = |version: i16| {
            // Below v4 the field does not exist (the codec insists on its default, true): brokers that
            // old may auto-create a topic asked about. Kafka 0.11+ and warren speak v4+.
            MetadataRequest::default().with_allow_auto_topic_creation(version < 4).with_topics(topics.map(|names| {
                names
                    .iter()
                    .map(|n| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string((*n).to_string()))))
                    })
                    .collect()
            }))
        };
        let response = retry!(self, self.call_any(&build).await)?;
        let fresh = Metadata::from_response(response);
        {
            let mut cached = lock(&self.inner.metadata);
            let mut merged = (**cached).clone();
            merged.merge(&fresh, topics.is_none());
            *cached = Arc::new(merged);
        }
        self.inner.stale.store(false, Ordering::Release);
        Ok(fresh)
    }

    /// Refreshes the cache when an error marked it stale or `topic` is not in it.
    pub(crate) async fn fresh_metadata(&self, topic: Option<&str>) -> Result<Arc<Metadata>> {
        let cached = self.cached_metadata();
        let known = topic.is_none_or(|t| cached.topics.contains_key(t));
        if !self.inner.stale.load(Ordering::Acquire) && known && !cached.brokers.is_empty() {
            return Ok(cached);
        }
        let mut topics: Vec<&str> = cached.topics.keys().map(String::as_str).collect();
        if let Some(t) = topic.filter(|t| !cached.topics.contains_key(*t)) {
            topics.push(t);
        }
        self.metadata(Some(&topics)).await?;
        Ok(self.cached_metadata())
    }

    /// The leader of a partition, refreshing metadata if needed.
    pub(crate) async fn leader(&self, topic: &str, partition: i32) -> Result<i32> {
        let metadata = self.fresh_metadata(Some(topic)).await?;
        let t = metadata.topics.get(topic).ok_or_else(|| Error::UnknownTopic(topic.to_string()))?;
        let p = t.partitions.iter().find(|p| p.partition == partition).ok_or_else(|| {
            Error::Invalid(format!("topic '{topic}' has no partition {partition} ({} partitions)", t.partitions.len()))
        })?;
        if p.leader < 0 {
            self.inner.stale.store(true, Ordering::Release);
            return Err(Error::NoLeader { topic: topic.to_string(), partition });
        }
        Ok(p.leader)
    }

    pub(crate) fn cached_coordinator(&self, group: &str) -> Option<i32> {
        lock(&self.inner.coordinators).get(group).copied()
    }

    pub(crate) fn remember_coordinator(&self, group: &str, broker: i32) {
        lock(&self.inner.coordinators).insert(group.to_string(), broker);
    }

    /// Forgets what `error` says is out of date, so the next attempt looks it up again.
    pub(crate) fn recover(&self, error: &Error) {
        match error.recovery() {
            Recovery::None | Recovery::Wait => {}
            Recovery::RefreshMetadata | Recovery::FindCoordinator => {
                self.inner.stale.store(true, Ordering::Release);
                lock(&self.inner.coordinators).clear();
            }
        }
    }

    /// The open connection to `addr`, opening it if needed.
    pub(crate) async fn connection(&self, addr: &str) -> Result<Arc<Connection>> {
        let slot = Arc::clone(lock(&self.inner.connections).entry(addr.to_string()).or_default());
        let mut slot = slot.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(connection));
        }
        let config = &self.inner.config;
        let connection =
            Arc::new(Connection::open(addr, &config.client_id, config.connect_timeout, &config.security).await?);
        *slot = Some(Arc::clone(&connection));
        Ok(connection)
    }

    /// The connection to broker `id`, by the address the metadata gives it.
    pub(crate) async fn broker(&self, id: i32) -> Result<Arc<Connection>> {
        let addr = self.cached_metadata().brokers.get(&id).map(|b| b.addr()).ok_or(Error::UnknownBroker(id))?;
        self.connection(&addr).await
    }

    /// One attempt of one request to broker `id`; `extra` extends the timeout (long polls).
    pub(crate) async fn call_broker<R: Request>(
        &self,
        id: i32,
        extra: Duration,
        build: impl FnOnce(i16) -> R,
    ) -> Result<R::Response> {
        let connection = self.broker(id).await?;
        let version = connection.version(api_key::<R>())?;
        connection.call(version, &build(version), self.inner.config.request_timeout + extra).await
    }

    /// One attempt of one request to whichever broker answers: the brokers of the latest
    /// metadata first (their connections are usually open), then the bootstrap servers.
    pub(crate) async fn call_any<R: Request>(&self, build: impl Fn(i16) -> R) -> Result<R::Response> {
        let metadata = self.cached_metadata();
        let mut candidates: Vec<String> = metadata.brokers.values().map(|b| b.addr()).collect();
        for addr in &self.inner.config.bootstrap_servers {
            if !candidates.contains(addr) {
                candidates.push(addr.clone());
            }
        }
        let mut failures = Vec::new();
        let mut last = None;
        for addr in candidates {
            let attempt = async {
                let connection = self.connection(&addr).await?;
                let version = connection.version(api_key::<R>())?;
                connection.call(version, &build(version), self.inner.config.request_timeout).await
            };
            match attempt.await {
                Ok(response) => return Ok(response),
                Err(e @ (Error::Connect { .. } | Error::Disconnected { .. } | Error::Timeout { .. })) => {
                    failures.push(match &e {
                        Error::Connect { addr, reason } => format!("{addr}: {reason}"),
                        other => other.to_string(),
                    });
                    last = Some(e);
                }
                Err(other) => return Err(other),
            }
        }
        if metadata.brokers.is_empty() {
            // Never reached the cluster: not worth retrying, say which addresses failed and why.
            return Err(Error::NoBootstrap(failures.join(", ")));
        }
        Err(last.unwrap_or_else(|| Error::NoBootstrap("no address to try".into())))
    }

    /// One attempt to the controller (CreateTopics, DeleteTopics, CreatePartitions).
    pub(crate) async fn call_controller<R: Request>(&self, build: impl FnOnce(i16) -> R) -> Result<R::Response> {
        let metadata = self.fresh_metadata(None).await?;
        let controller = if metadata.brokers.contains_key(&metadata.controller_id) {
            metadata.controller_id
        } else {
            *metadata.brokers.keys().next().ok_or(Error::UnknownBroker(metadata.controller_id))?
        };
        self.call_broker(controller, Duration::ZERO, build).await
    }

    /// Every broker id in the (fresh) metadata.
    pub(crate) async fn broker_ids(&self) -> Result<Vec<i32>> {
        Ok(self.fresh_metadata(None).await?.brokers.keys().copied().collect())
    }

    /// Groups partitions by their current leader.
    pub(crate) async fn by_leader(
        &self,
        partitions: impl IntoIterator<Item = (String, i32)>,
    ) -> (BTreeMap<i32, Vec<(String, i32)>>, Vec<((String, i32), Error)>) {
        let mut grouped: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
        let mut failed = Vec::new();
        for (topic, partition) in partitions {
            match self.leader(&topic, partition).await {
                Ok(leader) => grouped.entry(leader).or_default().push((topic, partition)),
                Err(e) => failed.push(((topic, partition), e)),
            }
        }
        (grouped, failed)
    }
}

/// `Duration` as the i32 milliseconds Kafka requests carry.
pub(crate) fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// The wait before each retry: doubling from `retry_backoff` up to `retry_backoff_max`, while the
/// total stays within `retry_timeout`.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    deadline: Instant,
}

impl Backoff {
    pub fn new(config: &ClientConfig) -> Backoff {
        Backoff {
            next: config.retry_backoff,
            max: config.retry_backoff_max,
            deadline: Instant::now() + config.retry_timeout,
        }
    }

    /// The next wait, or `None` once it would end past the deadline.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let delay = self.next;
        if Instant::now() + delay > self.deadline {
            return None;
        }
        self.next = (self.next * 2).min(self.max);
        Some(delay)
    }
}

/// Evaluates `$attempt` (an expression with `.await`s, evaluated afresh each time) until it
/// succeeds, fails for good, or `retry_timeout` has passed; between attempts it waits the
/// backoff and forgets what the error says is stale. (A macro rather than a function taking an
/// async closure: such futures are not provably `Send`, and the monitor spawns them.)
macro_rules! retry {
    ($client:expr, $attempt:expr) => {{
        let mut backoff = $crate::kafka::client::Backoff::new($client.config());
        loop {
            let attempt: $crate::kafka::Result<_> = $attempt;
            match attempt {
                Err(e) if e.is_retriable() => {
                    tracing::debug!(error = %e, "retrying");
                    $client.recover(&e);
                    match backoff.next_delay() {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => break Err(e),
                    }
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retry;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stops_at_the_deadline() {
        let mut config = ClientConfig::new(["x:1"]);
        config.retry_backoff = Duration::from_millis(100);
        config.retry_backoff_max = Duration::from_millis(350);
        config.retry_timeout = Duration::from_secs(3600);
        let mut b = Backoff::new(&config);
        let delays: Vec<u128> = (0..5).filter_map(|_| b.next_delay()).map(|d| d.as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350, 350]);
        config.retry_timeout = Duration::from_millis(50);
        assert_eq!(Backoff::new(&config).next_delay(), None);
    }

    #[test]
    fn bootstrap_lists_split_like_kafka() {
        let c = ClientConfig::from_list("a:1, b:2,,c:3");
        assert_eq!(c.bootstrap_servers, ["a:1", "b:2", "c:3"]);
    }

    #[tokio::test]
    async fn unreachable_bootstrap_is_one_clear_error() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let addr = format!("127.0.0.1:{}", port.expect("free port"));
        let error = Client::connect(ClientConfig::new([addr.clone()])).await.err().expect("no broker there");
        assert_eq!(error.to_string(), format!("cannot reach any bootstrap server ({addr}: connection refused)"));
    }
}
