//! One connector's supervisor: turns its target state into running tasks. STARTED or PAUSED:
//! the connector's task configs are worked out (and written to `connect-configs` when they
//! changed), one task loop runs per config, told to run or to pause. STOPPED: the tasks end and
//! the connector has none. A config change makes the tasks again; a restart remakes what it
//! names. A connector whose task configs cannot be worked out (its database is down) is FAILED
//! and tried again with a backoff growing to a minute.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::plugin::Config;
use super::runtime::{self, Control};
use super::topics::{ConfigRecord, TargetState};
use super::worker::{Command, ConnectorEntry, State, Status, TaskShared, Worker};

/// How long a stopping task may take to reach a safe point before it is cut off: past the
/// client's retry timeout (30 s), so a write in flight ends on its own.
const STOP_GRACE: Duration = Duration::from_secs(45);

/// A task loop the supervisor runs.
struct Running {
    shared: Arc<TaskShared>,
    config: Config,
    control: watch::Sender<Control>,
    join: tokio::task::JoinHandle<()>,
}

/// The delay before the `failures`-th retry: 1 s doubling to 60 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

pub(super) async fn supervise(
    worker: Arc<Worker>,
    entry: Arc<ConnectorEntry>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let name = entry.name.clone();
    let mut ended = entry.ended.subscribe();
    let mut tasks: Vec<Running> = Vec::new();
    let mut failures = 0u32;
    loop {
        let state = entry.state();
        let mut retry_at: Option<Instant> = None;
        if state.target == TargetState::Stopped {
            stop_all(&mut tasks).await;
            entry.update(|s| {
                s.task_configs.clear();
                s.tasks.clear();
            });
            worker.publish(&entry, None, Status::new(State::Stopped));
        } else {
            if tasks.is_empty() {
                match start_tasks(&worker, &entry, &state.config).await {
                    Ok(started) => {
                        tasks = started;
                        failures = 0;
                    }
                    Err(e) => {
                        tracing::warn!(connector = %name, error = %format!("{e:#}"), "Connect: connector failed");
                        worker.publish(&entry, None, Status::failed(&e));
                        failures += 1;
                        retry_at = Some(Instant::now() + backoff(failures));
                    }
                }
            }
            if retry_at.is_none() {
                let control = if state.target == TargetState::Paused { Control::Pause } else { Control::Run };
                for t in &tasks {
                    t.control.send_replace(control);
                }
                let shown = if control == Control::Pause { State::Paused } else { State::Running };
                worker.publish(&entry, None, Status::new(shown));
            }
        }
        let retry = async {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let command = tokio::select! {
            biased;
            _ = ended.wait_for(|e| *e) => None,
            c = commands.recv() => c,
            () = retry => continue,
        };
        match command {
            None => {
                stop_all(&mut tasks).await;
                return;
            }
            Some(Command::Target) => {}
            Some(Command::Reconfigure) => stop_all(&mut tasks).await,
            Some(Command::Restart { include_tasks, only_failed }) => {
                let connector_failed = entry.state().connector.state == State::Failed;
                if !only_failed || connector_failed {
                    worker.publish(&entry, None, Status::new(State::Restarting));
                    // Restarting the connector works its task configs out again; tasks are made
                    // again only when those changed.
                    if !tasks.is_empty() && configs_changed(&entry, &tasks).await {
                        stop_all(&mut tasks).await;
                    }
                }
                if include_tasks {
                    for task in tasks.iter_mut() {
                        if !only_failed || task.shared.status().state == State::Failed {
                            restart(&worker, &entry, task).await;
                        }
                    }
                }
            }
            Some(Command::RestartTask(id)) => {
                if let Some(i) = tasks.iter().position(|t| t.shared.id == id) {
                    restart(&worker, &entry, &mut tasks[i]).await;
                }
            }
        }
    }
}

fn tasks_max(config: &Config) -> usize {
    config.get("tasks.max").and_then(|v| v.trim().parse().ok()).filter(|n| *n >= 1).unwrap_or(1)
}

async fn configs_changed(entry: &ConnectorEntry, tasks: &[Running]) -> bool {
    let state = entry.state();
    match state.plugin.task_configs(&state.config, tasks_max(&state.config)).await {
        Ok(configs) => configs != tasks.iter().map(|t| t.config.clone()).collect::<Vec<_>>(),
        Err(_) => true,
    }
}

/// Works out the task configs, records them if they changed, and starts one loop per config.
async fn start_tasks(
    worker: &Arc<Worker>,
    entry: &Arc<ConnectorEntry>,
    config: &Config,
) -> anyhow::Result<Vec<Running>> {
    let state = entry.state();
    let configs = state.plugin.task_configs(config, tasks_max(config)).await?;
    if configs != state.task_configs {
        let mut records: Vec<ConfigRecord> = configs
            .iter()
            .enumerate()
            .map(|(t, c)| ConfigRecord::Task { name: entry.name.clone(), task: t as u32, config: Some(c.clone()) })
            .collect();
        records.push(ConfigRecord::Commit { name: entry.name.clone(), tasks: configs.len() as u32 });
        worker.storage.write_configs(&records).await?;
    }
    let count = configs.len();
    let tasks: Vec<Running> = configs
        .into_iter()
        .enumerate()
        .map(|(t, c)| spawn(worker, entry, Arc::new(TaskShared::new(t as u32)), c, count))
        .collect();
    entry.update(|s| {
        s.task_configs = tasks.iter().map(|t| t.config.clone()).collect();
        s.tasks = tasks.iter().map(|t| Arc::clone(&t.shared)).collect();
    });
    Ok(tasks)
}

fn spawn(
    worker: &Arc<Worker>,
    entry: &Arc<ConnectorEntry>,
    shared: Arc<TaskShared>,
    config: Config,
    count: usize,
) -> Running {
    let control = if entry.state().target == TargetState::Paused { Control::Pause } else { Control::Run };
    let (control, receiver) = watch::channel(control);
    let join = tokio::spawn(runtime::run_task(
        Arc::clone(worker),
        Arc::clone(entry),
        entry.state().plugin,
        config.clone(),
        Arc::clone(&shared),
        count,
        receiver,
    ));
    Running { shared, config, control, join }
}

async fn restart(worker: &Arc<Worker>, entry: &Arc<ConnectorEntry>, task: &mut Running) {
    worker.publish(entry, Some(&task.shared), Status::new(State::Restarting));
    stop(task).await;
    let count = entry.state().task_configs.len();
    *task = spawn(worker, entry, Arc::clone(&task.shared), task.config.clone(), count);
}

async fn stop(task: &mut Running) {
    task.control.send_replace(Control::Stop);
    if tokio::time::timeout(STOP_GRACE, &mut task.join).await.is_err() {
        tracing::warn!(task = task.shared.id, "Connect: a task did not stop in time; cutting it off");
        task.join.abort();
        let _ = (&mut task.join).await;
    }
}

async fn stop_all(tasks: &mut Vec<Running>) {
    for t in tasks.iter() {
        t.control.send_replace(Control::Stop);
    }
    for t in tasks.iter_mut() {
        stop(t).await;
    }
    tasks.clear();
}
