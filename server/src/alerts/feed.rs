//! Feeds the alert engine: each monitored cluster's newest successful tick, once, turned into
//! `Facts` (groups from the monitor's view; partitions and brokers from the embedded cluster).
//! An unreachable cluster is skipped, not evaluated empty: no facts must not read as all clear.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Alerts, BrokerFacts, Facts, GroupFacts, PartitionFacts};
use crate::monitor::{ClusterView, Monitor};

/// Runs until aborted, checking for new ticks every `every`.
pub async fn run(
    monitor: Arc<Monitor>,
    cluster: Option<Arc<broker_core::Cluster>>,
    alerts: Arc<Alerts>,
    every: Duration,
) {
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        for view in monitor.clusters() {
            if !view.reachable || view.ts_ms == 0 || last.get(&view.name) == Some(&view.ts_ms) {
                continue;
            }
            last.insert(view.name.clone(), view.ts_ms);
            let embedded = cluster.as_deref().filter(|c| c.config.name == view.name);
            if let Err(e) = alerts.evaluate(&facts(&view, embedded)).await {
                tracing::warn!(cluster = %view.name, error = %e, "alert evaluation failed");
            }
        }
    }
}

/// The facts of one tick.
pub fn facts(view: &ClusterView, cluster: Option<&broker_core::Cluster>) -> Facts {
    let mut facts = Facts {
        cluster: view.name.clone(),
        now_ms: view.ts_ms,
        groups: view
            .groups
            .values()
            .map(|g| GroupFacts {
                group: g.group.clone(),
                status: g.status.as_str().to_string(),
                total_lag: g.total_lag,
                max_lag_seconds: g.max_lag_seconds,
            })
            .collect(),
        ..Facts::default()
    };
    if let Some(c) = cluster {
        let up = |id: i32| c.broker(id).is_some_and(|b| b.is_up());
        for t in c.metadata().topics.values() {
            for (i, p) in t.partitions.iter().enumerate() {
                facts.partitions.push(PartitionFacts {
                    topic: t.name.clone(),
                    partition: i as i32,
                    under_replicated: p.isr.iter().filter(|r| up(**r)).count() < p.replicas.len(),
                    offline: p.leader < 0 || !up(p.leader),
                });
            }
        }
        facts.brokers = c.brokers().iter().map(|b| BrokerFacts { id: b.id, up: b.is_up() }).collect();
    }
    facts
}

/// The engine's delivery counters as (receiver, outcome, count), for `/metrics`.
pub fn delivery_counts(alerts: &Alerts) -> Vec<(String, String, u64)> {
    alerts.counters().into_iter().map(|c| (c.receiver, c.outcome.as_str().to_string(), c.count)).collect()
}
