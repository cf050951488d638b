//! Stream processing: `[[streams]]` jobs with Kafka Streams' semantics (filter, re-key, windowed
//! aggregations, stream-table joins) that warren runs against its own cluster or a
//! `[[clusters]]` entry, over the Kafka protocol like any client.
//!
//! Layout: `spec` (a job's checked definition), `window` (the pure windowing engine), `record`
//! (what a job does to one record, and the changelog's bytes), `setup` (a run's tasks, internal
//! topics and restore), `job` (a run's fetch-process-commit cycles), and here the supervisor of
//! each job (start, stop, reset, retry after failures) and the live figures the pages and
//! `/metrics` read.
//!
//! A job's consumer group is its name (Kafka Streams' `application.id`), so the monitor watches
//! it like any group and gives it a Burrow verdict.

pub mod job;
pub mod record;
mod setup;
pub mod spec;
pub mod window;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

pub use spec::JobSpec;

use crate::kafka::{Client, ClientConfig};

/// What the operator wants of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Run,
    Stop,
}

/// A job's status as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Running,
    Error,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Error => "ERROR",
            Status::Stopped => "STOPPED",
        }
    }
}

/// Counters since warren started (`/metrics` reads them as Prometheus counters).
#[derive(Debug, Default)]
pub struct Counters {
    pub records_in: AtomicU64,
    pub records_out: AtomicU64,
    pub late: AtomicU64,
    /// Records skipped: not JSON where the job must read them, or lacking the key or number.
    pub skipped: AtomicU64,
    /// Re-keyed records seen twice (a re-keying replayed after a crash) and counted once.
    pub duplicates: AtomicU64,
}

impl Counters {
    pub fn add_out(&self, n: u64) {
        self.records_out.fetch_add(n, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
struct Live {
    status: Status,
    error: Option<String>,
    /// Task partition -> stream time (ms).
    stream_time: BTreeMap<i32, Option<i64>>,
    open_windows: usize,
    /// The last cycle found nothing to process: the job has caught up with its inputs.
    idle: bool,
    /// (when, records in, records out) about once a second, for the rates.
    samples: Vec<(Instant, u64, u64)>,
}

/// One job: its definition, live figures and controls.
pub struct JobState {
    pub spec: JobSpec,
    pub counters: Counters,
    live: Mutex<Live>,
    control: watch::Sender<Control>,
    /// A reset is deleting the group's offsets and the internal topics: no start meanwhile.
    /// Controls are sent under this lock, so a start and a reset never interleave.
    resetting: Mutex<bool>,
}

/// A job's figures at one moment (the API's `/api/v1/streams/{name}` adds its group's lag).
#[derive(Debug, Clone, Serialize)]
pub struct JobSnapshot {
    pub name: String,
    pub status: Status,
    pub error: Option<String>,
    pub cluster: String,
    pub group: String,
    /// Task partition -> stream time (ms since the epoch; null before a record).
    pub stream_time: BTreeMap<i32, Option<i64>>,
    pub open_windows: usize,
    pub records_in: u64,
    pub records_out: u64,
    pub records_in_per_second: f64,
    pub records_out_per_second: f64,
    pub late_records_dropped: u64,
    pub skipped_records: u64,
    /// Re-keyed records a replay after a crash wrote twice, counted once.
    pub duplicates_dropped: u64,
    /// The last processing cycle found nothing new in any input.
    pub caught_up: bool,
    pub processing_guarantee: &'static str,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

const RATE_SAMPLES: usize = 11;

impl JobState {
    fn new(spec: JobSpec) -> JobState {
        JobState {
            spec,
            counters: Counters::default(),
            live: Mutex::new(Live {
                status: Status::Stopped,
                error: None,
                stream_time: BTreeMap::new(),
                open_windows: 0,
                idle: false,
                samples: Vec::new(),
            }),
            control: watch::channel(Control::Run).0,
            resetting: Mutex::new(false),
        }
    }

    pub fn skip(&self) {
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_running(&self) {
        let mut live = lock(&self.live);
        live.idle = false;
        live.status = Status::Running;
        live.error = None;
    }

    fn set(&self, status: Status, error: Option<String>) {
        let mut live = lock(&self.live);
        live.idle = false;
        live.status = status;
        live.error = error;
    }

    pub(crate) fn publish(&self, stream_time: BTreeMap<i32, Option<i64>>, open_windows: usize, idle: bool) {
        let mut live = lock(&self.live);
        live.stream_time = stream_time;
        live.open_windows = open_windows;
        live.idle = idle;
        let now = Instant::now();
        if live.samples.last().is_none_or(|(at, _, _)| now.duration_since(*at) >= Duration::from_secs(1)) {
            let c = &self.counters;
            live.samples.push((now, c.records_in.load(Ordering::Relaxed), c.records_out.load(Ordering::Relaxed)));
            if live.samples.len() > RATE_SAMPLES {
                live.samples.remove(0);
            }
        }
    }

    pub fn snapshot(&self) -> JobSnapshot {
        let live = lock(&self.live).clone();
        let c = &self.counters;
        let (records_in, records_out) = (c.records_in.load(Ordering::Relaxed), c.records_out.load(Ordering::Relaxed));
        let rate = |pick: fn(&(Instant, u64, u64)) -> u64| match (live.samples.first(), live.samples.last()) {
            (Some(first), Some(last)) if last.0 > first.0 && live.status == Status::Running => {
                (pick(last) - pick(first)) as f64 / last.0.duration_since(first.0).as_secs_f64()
            }
            _ => 0.0,
        };
        JobSnapshot {
            name: self.spec.name.clone(),
            status: live.status,
            error: live.error.clone(),
            group: self.spec.name.clone(),
            cluster: self.spec.cluster.clone(),
            stream_time: live.stream_time.clone(),
            open_windows: live.open_windows,
            records_in,
            records_out,
            records_in_per_second: rate(|s| s.1),
            records_out_per_second: rate(|s| s.2),
            late_records_dropped: c.late.load(Ordering::Relaxed),
            skipped_records: c.skipped.load(Ordering::Relaxed),
            duplicates_dropped: c.duplicates.load(Ordering::Relaxed),
            caught_up: live.idle && live.status == Status::Running,
            processing_guarantee: if self.spec.exactly_once { "exactly_once_v2" } else { "at_least_once" },
        }
    }
}

/// Every configured job, each with its supervisor task.
#[derive(Default)]
pub struct Streams {
    jobs: Vec<Arc<JobState>>,
    clients: BTreeMap<String, ClientConfig>,
}

/// Why an operator action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no stream job named '{0}'")]
    NotFound(String),
    #[error("stop the job before resetting it")]
    Running,
    #[error("the job is being reset")]
    Resetting,
    #[error("{0}")]
    Kafka(#[from] crate::kafka::Error),
}

impl Streams {
    /// Starts a supervisor per job; `clients` maps each cluster name to how to reach it.
    pub fn start(
        specs: &[JobSpec],
        clients: BTreeMap<String, ClientConfig>,
    ) -> (Arc<Streams>, Vec<tokio::task::JoinHandle<()>>) {
        let jobs: Vec<Arc<JobState>> = specs.iter().cloned().map(|s| Arc::new(JobState::new(s))).collect();
        let mut tasks = Vec::new();
        for job in &jobs {
            let Some(config) = clients.get(&job.spec.cluster).cloned() else {
                job.set(Status::Error, Some(format!("cluster '{}' is not reachable from here", job.spec.cluster)));
                continue;
            };
            tasks.push(tokio::spawn(supervise(Arc::clone(job), config)));
        }
        (Arc::new(Streams { jobs, clients }), tasks)
    }

    pub fn jobs(&self) -> &[Arc<JobState>] {
        &self.jobs
    }

    pub fn job(&self, name: &str) -> Option<&Arc<JobState>> {
        self.jobs.iter().find(|j| j.spec.name == name)
    }

    pub fn control(&self, name: &str, control: Control) -> Result<(), ActionError> {
        let job = self.job(name).ok_or_else(|| ActionError::NotFound(name.to_string()))?;
        let resetting = lock(&job.resetting);
        if control == Control::Run && *resetting {
            return Err(ActionError::Resetting);
        }
        job.control.send_replace(control);
        Ok(())
    }

    /// Kafka's application reset for a stopped job: deletes its group's committed offsets and
    /// its internal topics (changelog, repartition). The next start reads its inputs from the
    /// earliest offsets with empty state; the sink is left as it is.
    pub async fn reset(&self, name: &str) -> Result<(), ActionError> {
        let job = self.job(name).ok_or_else(|| ActionError::NotFound(name.to_string()))?;
        {
            let mut resetting = lock(&job.resetting);
            if *job.control.borrow() == Control::Run || job.snapshot().status == Status::Running {
                return Err(ActionError::Running);
            }
            if *resetting {
                return Err(ActionError::Resetting);
            }
            *resetting = true;
        }
        let result = self.delete_state(job).await;
        *lock(&job.resetting) = false;
        result
    }

    /// The reset's deletions: the group, then the internal topics.
    async fn delete_state(&self, job: &JobState) -> Result<(), ActionError> {
        let name = &job.spec.name;
        let config = self.clients.get(&job.spec.cluster).cloned().ok_or_else(|| ActionError::NotFound(name.into()))?;
        let client = Client::new(config);
        for (group, result) in client.delete_groups(std::slice::from_ref(&job.spec.name)).await? {
            match result {
                Ok(()) => {}
                // GROUP_ID_NOT_FOUND: nothing was committed yet.
                Err(e) if e.code() == Some(69) => {}
                Err(e) => return Err(ActionError::Kafka(e)),
            }
            tracing::info!(%group, "stream job reset: offsets deleted");
        }
        for topic in [job.spec.changelog_topic(), job.spec.repartition_topic()].into_iter().flatten() {
            match client.delete_topic(&topic).await {
                Ok(()) | Err(crate::kafka::Error::UnknownTopic(_)) => {}
                Err(e) => return Err(ActionError::Kafka(e)),
            }
        }
        Ok(())
    }
}

/// Runs a job while its control says Run; a failed run is retried after a pause growing to
/// 30 s, except a fatal one (an invalid topology), which waits for the operator.
async fn supervise(job: Arc<JobState>, config: ClientConfig) {
    let mut control = job.control.subscribe();
    let mut pause = Duration::from_secs(1);
    loop {
        if *control.borrow_and_update() != Control::Run {
            job.set(Status::Stopped, None);
            if control.changed().await.is_err() {
                return;
            }
            continue;
        }
        if job.snapshot().status == Status::Stopped {
            // Starting (setting up, restoring) counts as running; an error stays shown until a
            // run gets going again.
            job.set(Status::Running, None);
        }
        match job::run(Arc::clone(&job), config.clone(), &mut control).await {
            Ok(()) => {
                pause = Duration::from_secs(1);
                job.set(Status::Stopped, None);
            }
            Err(failure) => {
                tracing::warn!(job = %job.spec.name, error = %failure.message, fatal = failure.fatal, "stream job failed");
                job.set(Status::Error, Some(failure.message));
                if failure.fatal {
                    // Waits for a stop, then a start.
                    if control.changed().await.is_err() {
                        return;
                    }
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    changed = control.changed() => if changed.is_err() { return },
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}
