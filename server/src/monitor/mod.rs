//! The lag monitor: a sampler per cluster that, every `sample_interval`, reads one snapshot,
//! turns it into Burrow's verdicts and warren's lag in seconds, stores the tick in SQLite in one
//! transaction, and publishes an immutable view for the pages, the APIs, the metrics and the
//! alerts. It runs at its own pace; nothing reacts per event.
//!
//! At start the windows are rebuilt from the stored raw samples, so verdicts continue across a
//! restart instead of starting from nothing (Burrow's rebuild spikes are what this avoids).

pub mod commit_log;
pub mod external;
pub mod snapshot;
mod state;
pub mod view;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use snapshot::Source;
pub use state::ClusterState;
pub use view::{ClusterView, GroupPartitionView, GroupView};

use crate::evaluator::{EvalConfig, RuleSet};
use crate::store::Store;

/// The monitor's settings, from `[monitor]`.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub sample_interval: Duration,
    pub raw_retention: Duration,
    pub eval: EvalConfig,
}

impl MonitorConfig {
    pub fn from_section(section: &crate::config::MonitorSection) -> MonitorConfig {
        MonitorConfig {
            sample_interval: section.sample_interval,
            raw_retention: section.raw_retention,
            eval: EvalConfig {
                intervals: section.intervals as usize,
                min_distance: section.min_distance,
                expire_group: section.expire_group,
                allowed_lag: section.allowed_lag,
                rules: if section.burrow_rules == "1.2.1" { RuleSet::Burrow121 } else { RuleSet::Burrow137 },
            },
        }
    }
}

/// The latest view of every monitored cluster.
pub struct Monitor {
    views: RwLock<BTreeMap<String, Arc<ClusterView>>>,
    /// Per cluster: wakes its sampler for a tick now.
    pokes: RwLock<BTreeMap<String, Arc<tokio::sync::Notify>>>,
    /// Bumped on every publish.
    published: tokio::sync::watch::Sender<u64>,
}

impl Default for Monitor {
    fn default() -> Monitor {
        Monitor { views: Default::default(), pokes: Default::default(), published: tokio::sync::watch::channel(0).0 }
    }
}

impl Monitor {
    pub fn cluster(&self, name: &str) -> Option<Arc<ClusterView>> {
        self.views.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    pub fn clusters(&self) -> Vec<Arc<ClusterView>> {
        self.views.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    pub fn publish(&self, view: ClusterView) {
        self.views.write().unwrap_or_else(|e| e.into_inner()).insert(view.name.clone(), Arc::new(view));
        self.published.send_modify(|n| *n += 1);
    }

    /// Changes on every published view.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    fn poke(&self, name: &str) -> Arc<tokio::sync::Notify> {
        let mut pokes = self.pokes.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(pokes.entry(name.to_string()).or_default())
    }

    /// Asks `name`'s sampler for a tick now and waits, up to `wait`, for a view sampled after
    /// the call (an action on the embedded cluster shows at once, not a sample interval later).
    pub async fn refresh(&self, name: &str, wait: Duration) {
        let asked = now_ms();
        let mut published = self.published.subscribe();
        self.poke(name).notify_one();
        let fresh = async {
            while self.cluster(name).is_none_or(|v| v.ts_ms < asked) {
                if published.changed().await.is_err() {
                    return;
                }
            }
        };
        if tokio::time::timeout(wait, fresh).await.is_err() {
            tracing::debug!(cluster = name, "no fresh sample in time; showing the last one");
        }
    }

    /// Registers a cluster before its first tick (so it is listed as not yet sampled).
    pub fn register(&self, name: &str) {
        let view = ClusterView { name: name.to_string(), reachable: true, ..ClusterView::default() };
        self.views.write().unwrap_or_else(|e| e.into_inner()).entry(name.to_string()).or_insert_with(|| Arc::new(view));
    }
}

/// Wall-clock milliseconds (the sampler's clock; commit timestamps use the same).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Samples one cluster forever: rebuilds its windows from the store, then ticks.
pub async fn run_sampler(monitor: Arc<Monitor>, name: String, source: Source, store: Store, config: MonitorConfig) {
    monitor.register(&name);
    let mut state = ClusterState::new(&name, config.eval.clone());
    let now = now_ms();
    // Enough raw history for every window: `intervals` ticks of broker samples, and commits as far
    // back as raw samples go.
    let window_ms =
        i64::try_from((config.sample_interval * (config.eval.intervals as u32 + 2)).as_millis()).unwrap_or(i64::MAX);
    let raw_ms = i64::try_from(config.raw_retention.as_millis()).unwrap_or(i64::MAX);
    match (
        store.recent_partitions(&name, now - window_ms).await,
        store.recent_group_partitions(&name, now - raw_ms).await,
    ) {
        (Ok(partitions), Ok(groups)) => {
            state.rebuild(&partitions, &groups);
            tracing::info!(cluster = %name, partition_samples = partitions.len(), group_samples = groups.len(), "monitor windows rebuilt from the store");
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(cluster = %name, error = %e, "could not rebuild the monitor windows; starting empty")
        }
    }
    let mut ticker = tokio::time::interval(config.sample_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_retention = Instant::now();
    let poke = monitor.poke(&name);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = poke.notified() => ticker.reset(),
        }
        let started = Instant::now();
        match source.snapshot(now_ms()).await {
            Ok(snapshot) => {
                let (mut view, tick) = state.apply(snapshot, |t, p, o| source.record_timestamp(t, p, o));
                if let Err(e) = store.write_tick(&tick).await {
                    tracing::error!(cluster = %name, error = %e, "could not store a monitor tick");
                }
                view.tick_ms = started.elapsed().as_secs_f64() * 1000.0;
                monitor.publish(view);
            }
            Err(error) => {
                tracing::warn!(cluster = %name, %error, "cannot sample the cluster");
                let previous = monitor.cluster(&name).map(|v| (*v).clone()).unwrap_or_default();
                monitor.publish(ClusterView { name: name.clone(), reachable: false, error: Some(error), ..previous });
            }
        }
        if last_retention.elapsed() >= Duration::from_secs(60) {
            last_retention = Instant::now();
            match store.apply_retention(now_ms(), config.raw_retention).await {
                Ok(pruned) => tracing::debug!(cluster = %name, ?pruned, "monitor retention"),
                Err(e) => tracing::warn!(cluster = %name, error = %e, "monitor retention failed"),
            }
        }
    }
}
