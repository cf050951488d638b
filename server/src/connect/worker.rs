//! The Connect worker: the connectors (config, target state, task configs, statuses), kept in
//! `connect-configs` and restored from it at start, and what the REST API asks of them.
//!
//! A change is written to `connect-configs` (acknowledged by the ISR) before it is applied, so
//! what a 2xx answered survives a crash. Each connector has a supervisor (`supervisor.rs`) that
//! turns its target state into running tasks; changes reach it as commands. Statuses go to
//! `connect-status` through one writer, latest per key. Source offsets are kept here as the
//! tasks commit them (in their own transactions) and as `connect-offsets` held them at start.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::sync::{mpsc, watch};

use super::plugin::{Config, Offsets, Plugin};
use super::storage::{self, Storage};
use super::topics::{status_key, ConfigRecord, StatusRecord, TargetState};
use super::validate;
use crate::kafka::Client;

/// How long a request waits for the worker to finish starting (Kafka's herder request timeout).
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A connector's or task's state, as Kafka names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

impl State {
    pub const ALL: [State; 6] =
        [State::Unassigned, State::Running, State::Paused, State::Stopped, State::Failed, State::Restarting];

    pub fn name(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Stopped => "STOPPED",
            State::Failed => "FAILED",
            State::Restarting => "RESTARTING",
        }
    }
}

/// A state and, when failed, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub trace: Option<String>,
}

impl Status {
    pub fn new(state: State) -> Status {
        Status { state, trace: None }
    }

    pub fn failed(error: &anyhow::Error) -> Status {
        Status { state: State::Failed, trace: Some(format!("{error:#}")) }
    }
}

/// One task's live figures, shared by its loop, the supervisor, the API and `/metrics`.
#[derive(Debug)]
pub struct TaskShared {
    pub id: u32,
    status: Mutex<Status>,
    /// Records read: from the source system, or from Kafka for a sink.
    pub records_in: AtomicU64,
    /// Records written: to Kafka, or to the sink system.
    pub records_out: AtomicU64,
    /// (when, records_out) at most one a second over the last minute, for the throughput.
    samples: Mutex<std::collections::VecDeque<(std::time::Instant, u64)>>,
    topics: Mutex<BTreeSet<String>>,
}

impl TaskShared {
    pub fn new(id: u32) -> TaskShared {
        TaskShared {
            id,
            status: Mutex::new(Status::new(State::Unassigned)),
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            samples: Mutex::new(std::collections::VecDeque::new()),
            topics: Mutex::new(BTreeSet::new()),
        }
    }

    /// Counts `n` records written.
    pub fn wrote(&self, n: u64) {
        let total = self.records_out.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        let now = std::time::Instant::now();
        let mut samples = self.samples.lock().expect("samples lock");
        if samples.back().is_none_or(|(at, _)| now.duration_since(*at) >= Duration::from_secs(1)) {
            samples.push_back((now, total));
        }
        while samples.front().is_some_and(|(at, _)| now.duration_since(*at) > Duration::from_secs(60)) {
            samples.pop_front();
        }
    }

    /// Records written per second over the last minute (at most; since the first write).
    pub fn rate_out(&self) -> f64 {
        let now = std::time::Instant::now();
        let total = self.records_out.load(std::sync::atomic::Ordering::Relaxed);
        let samples = self.samples.lock().expect("samples lock");
        let oldest = samples.iter().find(|(at, _)| now.duration_since(*at) <= Duration::from_secs(60));
        match oldest {
            Some((at, count)) if now.duration_since(*at) >= Duration::from_secs(1) => {
                (total - count) as f64 / now.duration_since(*at).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    pub fn status(&self) -> Status {
        self.status.lock().expect("status lock").clone()
    }

    /// Notes a topic the task wrote or read (Kafka's active topics).
    pub fn used_topic(&self, topic: &str) {
        let mut topics = self.topics.lock().expect("topics lock");
        if !topics.contains(topic) {
            topics.insert(topic.to_string());
        }
    }
}

/// What the REST API and the pages ask the supervisor to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The config changed: tasks are made again from it.
    Reconfigure,
    /// The target state changed.
    Target,
    Restart {
        include_tasks: bool,
        only_failed: bool,
    },
    RestartTask(u32),
}

/// One connector's state.
#[derive(Debug, Clone)]
pub struct EntryState {
    pub config: Config,
    pub plugin: Plugin,
    pub target: TargetState,
    pub task_configs: Vec<Config>,
    pub connector: Status,
    pub tasks: Vec<Arc<TaskShared>>,
}

/// A connector: its state and its supervisor's command queue.
#[derive(Debug)]
pub struct ConnectorEntry {
    pub name: String,
    state: Mutex<EntryState>,
    commands: mpsc::UnboundedSender<Command>,
    /// Set when the connector is deleted or warren stops: its supervisor ends, ahead of any
    /// command still queued.
    pub(super) ended: watch::Sender<bool>,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ConnectorEntry {
    pub fn state(&self) -> EntryState {
        self.state.lock().expect("entry lock").clone()
    }

    pub fn update<T>(&self, change: impl FnOnce(&mut EntryState) -> T) -> T {
        change(&mut self.state.lock().expect("entry lock"))
    }

    fn command(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Ends the supervisor and waits until its tasks have stopped.
    async fn end(&self) {
        self.ended.send_replace(true);
        let supervisor = self.supervisor.lock().expect("supervisor lock").take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
    }
}

/// Why a request failed, with the HTTP status Kafka answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
}

impl WorkerError {
    pub fn status(&self) -> u16 {
        match self {
            WorkerError::NotFound(_) => 404,
            WorkerError::Conflict(_) => 409,
            WorkerError::BadRequest(_) => 400,
            WorkerError::Internal(_) => 500,
        }
    }
}

pub(super) fn internal(e: anyhow::Error) -> WorkerError {
    WorkerError::Internal(format!("{e:#}"))
}

/// The Connect worker.
pub struct Worker {
    pub worker_id: String,
    pub cluster_id: String,
    pub(super) storage: Storage,
    connectors: Mutex<BTreeMap<String, Arc<ConnectorEntry>>>,
    pub(super) offsets: Mutex<BTreeMap<String, Offsets>>,
    /// Serialises changes, so each is written before the next is judged.
    pub(super) writes: tokio::sync::Mutex<()>,
    ready: watch::Sender<bool>,
    /// Whether the internal topics exist (made with the first connector).
    topics_made: std::sync::atomic::AtomicBool,
    statuses: mpsc::UnboundedSender<(String, Option<Vec<u8>>)>,
    /// Partition counts of the topics source tasks write.
    pub(super) topic_partitions: Mutex<BTreeMap<String, i32>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("worker_id", &self.worker_id).finish_non_exhaustive()
    }
}

impl Worker {
    /// Starts the worker: makes the internal topics, restores the connectors and starts them.
    /// Answers at once; requests wait until the restore is done.
    pub fn start(
        client: Client,
        worker_id: String,
        cluster_id: String,
    ) -> (Arc<Worker>, Vec<tokio::task::JoinHandle<()>>) {
        let (statuses, status_rx) = mpsc::unbounded_channel();
        let worker = Arc::new(Worker {
            worker_id,
            cluster_id,
            storage: Storage::new(client),
            connectors: Mutex::new(BTreeMap::new()),
            offsets: Mutex::new(BTreeMap::new()),
            writes: tokio::sync::Mutex::new(()),
            ready: watch::channel(false).0,
            topics_made: std::sync::atomic::AtomicBool::new(false),
            statuses,
            topic_partitions: Mutex::new(BTreeMap::new()),
        });
        let writer = tokio::spawn(write_statuses(worker.storage.clone(), status_rx));
        let init = tokio::spawn(Arc::clone(&worker).restore_until_done());
        (worker, vec![writer, init])
    }

    pub fn client(&self) -> &Client {
        self.storage.client()
    }

    async fn restore_until_done(self: Arc<Self>) {
        let mut delay = Duration::from_millis(200);
        loop {
            match self.restore().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "Connect: cannot read its topics yet, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.ready.send_replace(true);
        tracing::info!(connectors = self.names().len(), "Connect worker ready");
    }

    async fn restore(self: &Arc<Self>) -> anyhow::Result<()> {
        if self.storage.partitions(storage::CONFIG_TOPIC).await? == 0 {
            // No connector was ever made here: the topics come with the first one.
            return Ok(());
        }
        self.ensure_topics().await?;
        let mut configs: BTreeMap<String, Config> = BTreeMap::new();
        let mut targets: BTreeMap<String, TargetState> = BTreeMap::new();
        let mut staged: BTreeMap<String, BTreeMap<u32, Config>> = BTreeMap::new();
        let mut committed: BTreeMap<String, Vec<Config>> = BTreeMap::new();
        for record in self.storage.read_all(storage::CONFIG_TOPIC).await? {
            let Some(key) = &record.key else { continue };
            match ConfigRecord::decode(key, record.value.as_deref()) {
                ConfigRecord::Connector { name, config: Some(config) } => {
                    configs.insert(name, config);
                }
                ConfigRecord::Connector { name, config: None } => {
                    configs.remove(&name);
                    targets.remove(&name);
                }
                ConfigRecord::TargetState { name, state: Some(state) } => {
                    targets.insert(name, state);
                }
                ConfigRecord::TargetState { name, state: None } => {
                    targets.remove(&name);
                }
                ConfigRecord::Task { name, task, config: Some(config) } => {
                    staged.entry(name).or_default().insert(task, config);
                }
                ConfigRecord::Task { .. } | ConfigRecord::Other => {}
                ConfigRecord::Commit { name, tasks } => {
                    let stage = staged.remove(&name).unwrap_or_default();
                    committed.insert(name, (0..tasks).filter_map(|t| stage.get(&t).cloned()).collect());
                }
            }
        }
        let offsets = self.storage.read_all_offsets().await?;
        *self.offsets.lock().expect("offsets lock") = offsets;
        for (name, config) in configs {
            let Ok(plugin) = validate::plugin_of(&config) else {
                tracing::warn!(connector = %name, "Connect: skipping a stored connector whose class warren lacks");
                continue;
            };
            let target = targets.get(&name).copied().unwrap_or(TargetState::Started);
            let task_configs = committed.remove(&name).unwrap_or_default();
            self.spawn_connector(&name, config, plugin, target, task_configs);
        }
        Ok(())
    }

    fn spawn_connector(
        self: &Arc<Self>,
        name: &str,
        config: Config,
        plugin: Plugin,
        target: TargetState,
        task_configs: Vec<Config>,
    ) -> Arc<ConnectorEntry> {
        let (commands, receiver) = mpsc::unbounded_channel();
        let entry = Arc::new(ConnectorEntry {
            name: name.to_string(),
            state: Mutex::new(EntryState {
                config,
                plugin,
                target,
                task_configs,
                connector: Status::new(State::Unassigned),
                tasks: Vec::new(),
            }),
            commands,
            ended: watch::channel(false).0,
            supervisor: Mutex::new(None),
        });
        self.connectors.lock().expect("connectors lock").insert(name.to_string(), Arc::clone(&entry));
        let supervisor = tokio::spawn(super::supervisor::supervise(Arc::clone(self), Arc::clone(&entry), receiver));
        *entry.supervisor.lock().expect("supervisor lock") = Some(supervisor);
        entry
    }

    /// Stops every task at a safe point (warren is stopping); connectors stay as they are.
    pub async fn shutdown(&self) {
        let entries = self.entries();
        for entry in &entries {
            entry.ended.send_replace(true);
        }
        for entry in entries {
            let _ = tokio::time::timeout(Duration::from_secs(60), entry.end()).await;
        }
    }

    /// Makes the internal topics unless this worker already did.
    async fn ensure_topics(&self) -> anyhow::Result<()> {
        if !self.topics_made.load(std::sync::atomic::Ordering::Acquire) {
            self.storage.ensure_topics().await?;
            self.topics_made.store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Waits until the worker has restored its connectors.
    pub async fn ready(&self) -> Result<(), WorkerError> {
        let mut ready = self.ready.subscribe();
        let waited = tokio::time::timeout(READY_TIMEOUT, ready.wait_for(|r| *r)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(WorkerError::Internal("Request timed out".into())),
        }
    }

    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    pub fn names(&self) -> Vec<String> {
        self.connectors.lock().expect("connectors lock").keys().cloned().collect()
    }

    pub fn entries(&self) -> Vec<Arc<ConnectorEntry>> {
        self.connectors.lock().expect("connectors lock").values().cloned().collect()
    }

    pub fn entry(&self, name: &str) -> Result<Arc<ConnectorEntry>, WorkerError> {
        self.connectors
            .lock()
            .expect("connectors lock")
            .get(name)
            .cloned()
            .ok_or_else(|| WorkerError::NotFound(format!("Connector {name} not found")))
    }

    /// Kafka's `ConnectorInfo`.
    pub fn info(&self, name: &str) -> Result<Json, WorkerError> {
        let state = self.entry(name)?.state();
        let tasks: Vec<Json> = (0..state.task_configs.len()).map(|t| json!({"connector": name, "task": t})).collect();
        Ok(json!({"name": name, "config": state.config, "tasks": tasks, "type": state.plugin.kind().name()}))
    }

    fn status_json(&self, status: &Status) -> Json {
        let mut json = json!({"state": status.state.name(), "worker_id": self.worker_id});
        if let Some(trace) = status.trace.as_ref().filter(|t| !t.is_empty()) {
            json["trace"] = json!(trace);
        }
        json
    }

    /// One task's status (`{id, state, worker_id, trace?}`).
    pub fn task_status_json(&self, task: &TaskShared) -> Json {
        let mut json = self.status_json(&task.status());
        json["id"] = json!(task.id);
        json
    }

    /// Kafka's `ConnectorStateInfo`.
    pub fn status(&self, name: &str) -> Result<Json, WorkerError> {
        let entry =
            self.entry(name).map_err(|_| WorkerError::NotFound(format!("No status found for connector {name}")))?;
        let state = entry.state();
        let tasks: Vec<Json> = state.tasks.iter().map(|t| self.task_status_json(t)).collect();
        Ok(json!({
            "name": name,
            "connector": self.status_json(&state.connector),
            "tasks": tasks,
            "type": state.plugin.kind().name(),
        }))
    }

    pub fn task_status(&self, name: &str, task: u32) -> Result<Json, WorkerError> {
        let not_found = || WorkerError::NotFound(format!("No status found for task {name}-{task}"));
        let entry = self.entry(name).map_err(|_| not_found())?;
        let state = entry.state();
        let shared = state.tasks.iter().find(|t| t.id == task).ok_or_else(not_found)?;
        Ok(self.task_status_json(shared))
    }

    /// `GET /connectors/{c}/tasks`.
    pub fn tasks(&self, name: &str) -> Result<Json, WorkerError> {
        let state = self.entry(name)?.state();
        Ok(Json::Array(
            state
                .task_configs
                .iter()
                .enumerate()
                .map(|(t, config)| json!({"id": {"connector": name, "task": t}, "config": config}))
                .collect(),
        ))
    }

    /// `GET /connectors/{c}/topics`.
    pub fn active_topics(&self, name: &str) -> Result<Json, WorkerError> {
        let state = self.entry(name)?.state();
        let topics: BTreeSet<String> =
            state.tasks.iter().flat_map(|t| t.topics.lock().expect("topics lock").clone()).collect();
        Ok(json!({ name: {"topics": topics} }))
    }

    /// Creates a connector (`initial`: its first target state). 409 when it exists; 400 when
    /// its config is invalid.
    pub async fn create(
        self: &Arc<Self>,
        name: &str,
        config: Config,
        initial: TargetState,
    ) -> Result<Json, WorkerError> {
        self.ready().await?;
        // Validation may connect to a database: it runs before the lock, not holding up others.
        let plugin = check(&config).await?;
        let _write = self.writes.lock().await;
        if self.connectors.lock().expect("connectors lock").contains_key(name) {
            return Err(WorkerError::Conflict(format!("Connector {name} already exists")));
        }
        self.ensure_topics().await.map_err(internal)?;
        let records = [
            ConfigRecord::TargetState { name: name.to_string(), state: Some(initial) },
            ConfigRecord::Connector { name: name.to_string(), config: Some(config.clone()) },
        ];
        self.storage.write_configs(&records).await.map_err(internal)?;
        self.spawn_connector(name, config, plugin, initial, Vec::new());
        self.info(name)
    }

    /// `PUT /connectors/{c}/config`: creates (true) or updates (false) a connector.
    pub async fn put_config(self: &Arc<Self>, name: &str, config: Config) -> Result<(bool, Json), WorkerError> {
        self.ready().await?;
        let plugin = check(&config).await?;
        let _write = self.writes.lock().await;
        let existing = self.connectors.lock().expect("connectors lock").get(name).cloned();
        self.ensure_topics().await.map_err(internal)?;
        let record = ConfigRecord::Connector { name: name.to_string(), config: Some(config.clone()) };
        self.storage.write_configs(&[record]).await.map_err(internal)?;
        match existing {
            Some(entry) => {
                entry.update(|s| {
                    s.config = config;
                    s.plugin = plugin;
                });
                entry.command(Command::Reconfigure);
                Ok((false, self.info(name)?))
            }
            None => {
                self.spawn_connector(name, config, plugin, TargetState::Started, Vec::new());
                Ok((true, self.info(name)?))
            }
        }
    }

    /// Deletes a connector: its tasks stop, its config and target state are tombstoned, its
    /// statuses too. Its offsets stay, as in Kafka.
    pub async fn delete(&self, name: &str) -> Result<(), WorkerError> {
        self.ready().await?;
        let _write = self.writes.lock().await;
        let entry = self.entry(name)?;
        let records = [
            ConfigRecord::Connector { name: name.to_string(), config: None },
            ConfigRecord::TargetState { name: name.to_string(), state: None },
        ];
        self.storage.write_configs(&records).await.map_err(internal)?;
        self.connectors.lock().expect("connectors lock").remove(name);
        // Its tasks stop before the answer, so a connector made again under the name never runs
        // beside them; then their statuses are tombstoned.
        entry.end().await;
        let tasks = entry.state().tasks.len().max(entry.state().task_configs.len());
        let _ = self.statuses.send((status_key(name, None), None));
        for t in 0..tasks {
            let _ = self.statuses.send((status_key(name, Some(t as u32)), None));
        }
        Ok(())
    }

    /// Pause, resume (STARTED) or stop.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        self.ready().await?;
        let _write = self.writes.lock().await;
        let entry = self.entry(name)?;
        if target == TargetState::Stopped {
            // As Kafka's distributed herder does: an empty task set first, then the state.
            let records = [
                ConfigRecord::Commit { name: name.to_string(), tasks: 0 },
                ConfigRecord::TargetState { name: name.to_string(), state: Some(target) },
            ];
            self.storage.write_configs(&records).await.map_err(internal)?;
        } else {
            let record = ConfigRecord::TargetState { name: name.to_string(), state: Some(target) };
            self.storage.write_configs(&[record]).await.map_err(internal)?;
        }
        entry.update(|s| s.target = target);
        entry.command(Command::Target);
        Ok(())
    }

    /// `POST /connectors/{c}/restart`: None for a connector-only restart (204), else the plan
    /// with the instances being restarted shown RESTARTING (202).
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<Json>, WorkerError> {
        self.ready().await?;
        let entry = self.entry(name).map_err(|_| WorkerError::NotFound(format!("Unknown connector: {name}")))?;
        entry.command(Command::Restart { include_tasks, only_failed });
        if !include_tasks && !only_failed {
            return Ok(None);
        }
        let state = entry.state();
        let marked = |status: &Status| !only_failed || status.state == State::Failed;
        let mut connector = self.status_json(&state.connector);
        if marked(&state.connector) {
            connector["state"] = json!("RESTARTING");
            connector.as_object_mut().expect("an object").remove("trace");
        }
        let tasks: Vec<Json> = state
            .tasks
            .iter()
            .map(|t| {
                let mut json = self.task_status_json(t);
                if include_tasks && marked(&t.status()) {
                    json["state"] = json!("RESTARTING");
                    json.as_object_mut().expect("an object").remove("trace");
                }
                json
            })
            .collect();
        Ok(Some(json!({"name": name, "connector": connector, "tasks": tasks, "type": state.plugin.kind().name()})))
    }

    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        self.ready().await?;
        let entry = self.entry(name).map_err(|_| WorkerError::NotFound(format!("Unknown connector: {name}")))?;
        if !entry.state().tasks.iter().any(|t| t.id == task) {
            return Err(WorkerError::NotFound(format!("Unknown task: {name}-{task}")));
        }
        entry.command(Command::RestartTask(task));
        Ok(())
    }

    /// Sets a connector's (task None) or task's status, and publishes it while `entry` is the
    /// connector of that name (a deleted one's late changes go nowhere).
    pub fn publish(&self, entry: &Arc<ConnectorEntry>, task: Option<&TaskShared>, status: Status) {
        let key = status_key(&entry.name, task.map(|t| t.id));
        let record = StatusRecord {
            state: status.state.name().to_string(),
            trace: status.trace.clone(),
            worker_id: self.worker_id.clone(),
            generation: 1,
        };
        match task {
            Some(t) => *t.status.lock().expect("status lock") = status,
            None => entry.update(|s| s.connector = status),
        }
        let current =
            self.connectors.lock().expect("connectors lock").get(&entry.name).is_some_and(|e| Arc::ptr_eq(e, entry));
        if current {
            let _ = self.statuses.send((key, Some(record.encode())));
        }
    }
}

/// A sink connector's consumer group, as Kafka names it.
pub fn sink_group(connector: &str) -> String {
    format!("connect-{connector}")
}

/// Validates a config for create or update: 400 with Kafka's message when it fails.
async fn check(config: &Config) -> Result<Plugin, WorkerError> {
    let validation = validate::validate(config).await.map_err(|e| WorkerError::BadRequest(e.to_string()))?;
    match validation.failure() {
        Some(message) => Err(WorkerError::BadRequest(message)),
        None => Ok(validation.plugin),
    }
}

/// Writes statuses to `connect-status`, latest per key, in the background.
async fn write_statuses(storage: Storage, mut rx: mpsc::UnboundedReceiver<(String, Option<Vec<u8>>)>) {
    while let Some(first) = rx.recv().await {
        let mut latest: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::from([first]);
        while let Ok((key, value)) = rx.try_recv() {
            latest.insert(key, value);
        }
        for (key, value) in latest {
            if let Err(e) = storage.write_status(&key, value).await {
                tracing::debug!(error = %e, key, "Connect: a status was not written");
            }
        }
    }
}
