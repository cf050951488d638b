//! Feeds the alert engine: each monitored cluster's newest successful tick, once, turned into
//! `Facts`: groups, partitions and brokers all from that one view, for every cluster alike. An
//! unreachable cluster is skipped, not evaluated empty: no facts must not read as all clear.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Alerts, BrokerFacts, Facts, GroupFacts, PartitionFacts};
use crate::monitor::{ClusterView, Monitor};

/// Runs until aborted: wakes when a view is published (and at least every `every`).
pub async fn run(monitor: Arc<Monitor>, alerts: Arc<Alerts>, every: Duration) {
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut published = monitor.subscribe();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = published.changed() => {
                if changed.is_err() {
                    ticker.tick().await;
                }
            }
            _ = ticker.tick() => {}
        }
        for view in monitor.clusters() {
            if !view.reachable || view.ts_ms == 0 || last.get(&view.name) == Some(&view.ts_ms) {
                continue;
            }
            last.insert(view.name.clone(), view.ts_ms);
            if let Err(e) = alerts.evaluate(&facts(&view)).await {
                tracing::warn!(cluster = %view.name, error = %e, "alert evaluation failed");
            }
        }
    }
}

/// The facts of one tick.
pub fn facts(view: &ClusterView) -> Facts {
    Facts {
        cluster: view.name.clone(),
        now_ms: view.ts_ms,
        groups: view
            .groups
            .values()
            .map(|g| GroupFacts {
                group: g.group.clone(),
                status: g.status,
                total_lag: g.total_lag,
                max_lag_seconds: g.max_lag_seconds,
            })
            .collect(),
        partitions: view
            .partitions
            .iter()
            .map(|p| PartitionFacts {
                topic: p.topic.clone(),
                partition: p.partition,
                under_replicated: p.under_replicated(),
                offline: p.offline(),
            })
            .collect(),
        brokers: view.brokers.iter().map(|b| BrokerFacts { id: b.id, up: b.up }).collect(),
    }
}

/// The engine's delivery counters as (receiver, outcome, count), for `/metrics`.
pub fn delivery_counts(alerts: &Alerts) -> Vec<(String, String, u64)> {
    alerts.counters().into_iter().map(|c| (c.receiver, c.outcome.as_str().to_string(), c.count)).collect()
}
