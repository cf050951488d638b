//! Alerts: `[[alerts.rules]]` evaluated on every monitor tick, notifications sent to
//! `[[alerts.receivers]]` (Alertmanager v4, Slack or generic JSON, optionally signed with Standard
//! Webhooks headers) through an outbox in SQLite, silences, and the views behind the alerts page.
//! Only this module sends HTTP.
//!
//! Invariants: an alert's state and the notifications its change causes are committed together
//! (`Store::apply_alert_changes`), before anything is sent; every notification is stored before
//! its first attempt and keeps its body and `webhook-id` across attempts and restarts; a restart
//! resumes both the alert states (nothing re-notifies early) and the outbox. Rule evaluation
//! (`rules`) is pure: time comes in with the facts; the delivery worker takes an injected clock.

mod delivery;
pub mod feed;
mod payload;
mod rules;
mod signing;

#[cfg(test)]
mod test_receiver;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_delivery;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

pub use delivery::{DeliveryCount, DeliveryOptions};
pub use payload::ReceiverKind;
pub use rules::{fingerprint, BrokerFacts, Facts, GroupFacts, PartitionFacts, RuleKind, DEFAULT_REPEAT_INTERVAL};
pub use signing::SigningKey;

use crate::config::AlertsSection;
use crate::store::{
    AlertChanges, AlertRecord, DeliveryLogEntry, NewNotification, NewSilence, OutboxEntry, SilenceMatcher,
    SilenceRecord, Store, StoreError,
};

/// Wall-clock Unix milliseconds, injected (the server passes `monitor::now_ms`).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// An invalid `[[alerts.rules]]` or `[[alerts.receivers]]` entry; `key` names the entry and field,
/// e.g. `alerts.rules[0].status (rule "group-error")`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for {key}: {reason}")]
pub struct AlertsConfigError {
    pub key: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error(transparent)]
    Config(#[from] AlertsConfigError),
    #[error("the alert engine could not use the store")]
    Store(#[from] StoreError),
    #[error("cannot build the webhook HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("invalid silence: {0}")]
    InvalidSilence(String),
}

/// Engine settings that are not in the config file.
#[derive(Debug, Clone)]
pub struct AlertsOptions {
    /// warren's dashboard as receivers should link to it (`externalURL`, `generatorURL`).
    pub external_url: String,
    /// How long resolved alerts, finished notifications and ended silences are kept.
    pub keep_history: Duration,
    pub delivery: DeliveryOptions,
}

impl Default for AlertsOptions {
    fn default() -> Self {
        AlertsOptions {
            external_url: "http://127.0.0.1:8080".into(),
            keep_history: Duration::from_secs(7 * 86_400),
            delivery: DeliveryOptions::default(),
        }
    }
}

/// Validates the alert sections (call from config resolution for an early, named error).
pub fn validate(section: &AlertsSection) -> Result<(), AlertsConfigError> {
    let targets = delivery::compile_receivers(&section.receivers)?;
    rules::compile(&section.rules, &targets.keys().map(String::as_str).collect())?;
    Ok(())
}

/// One alert as the alerts page and `GET /api/v1/alerts` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: AlertRecord,
    pub severity: String,
    /// The silence muting it now, if any.
    pub silenced_by: Option<i64>,
}

/// `GET /api/v1/alerts`: `{active: [..], recent: [..]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertsOverview {
    /// Pending and firing alerts, firing first.
    pub active: Vec<AlertView>,
    /// Resolved alerts, newest first.
    pub recent: Vec<AlertView>,
}

impl AlertsOverview {
    /// Only the alerts of `cluster`.
    pub fn of_cluster(mut self, cluster: &str) -> AlertsOverview {
        self.active.retain(|a| a.alert.cluster == cluster);
        self.recent.retain(|a| a.alert.cluster == cluster);
        self
    }
}

/// What one `evaluate` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvaluationSummary {
    pub changed: usize,
    pub resolved: usize,
    pub notifications: usize,
}

/// A silence to create: mute a group (`matcher = Group`, `target` = group id) or a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceRequest {
    pub matcher: SilenceMatcher,
    pub target: String,
    /// `None`: in every cluster.
    pub cluster: Option<String>,
    pub duration: Duration,
    pub comment: String,
    /// Who asked (the web layer's idea of the admin).
    pub created_by: String,
}

/// The longest silence accepted.
const MAX_SILENCE: Duration = Duration::from_secs(366 * 86_400);

/// How often `evaluate` prunes history.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// The alert engine: one per process, shared as `Arc<Alerts>`.
pub struct Alerts {
    store: Store,
    rules: Vec<rules::CompiledRule>,
    options: AlertsOptions,
    clock: Clock,
    delivery: Arc<delivery::Deliverer>,
    /// Serializes evaluations, so two clusters' ticks never interleave their read-modify-write.
    eval_lock: tokio::sync::Mutex<()>,
    last_prune_ms: AtomicI64,
}

impl Alerts {
    /// Validates the config and builds the engine; the delivery worker is started separately
    /// with [`Alerts::run_delivery`].
    pub fn new(
        store: Store,
        section: &AlertsSection,
        options: AlertsOptions,
        clock: Clock,
    ) -> Result<Arc<Alerts>, AlertsError> {
        let targets = delivery::compile_receivers(&section.receivers)?;
        let rules = rules::compile(&section.rules, &targets.keys().map(String::as_str).collect::<BTreeSet<_>>())?;
        let client = delivery::client(&options.delivery).map_err(AlertsError::Client)?;
        let deliverer =
            delivery::Deliverer::new(store.clone(), client, targets, options.delivery.clone(), Arc::clone(&clock));
        Ok(Arc::new(Alerts {
            store,
            rules,
            options,
            clock,
            delivery: Arc::new(deliverer),
            eval_lock: tokio::sync::Mutex::new(()),
            last_prune_ms: AtomicI64::new(i64::MIN),
        }))
    }

    /// Evaluates every rule against one cluster's facts and stores the state changes with the
    /// notifications they cause (one transaction), then wakes the delivery worker.
    pub async fn evaluate(&self, facts: &Facts) -> Result<EvaluationSummary, AlertsError> {
        let _serial = self.eval_lock.lock().await;
        let open = self.store.open_alerts(&facts.cluster).await?;
        let silences = self.store.silences_ending_after(facts.now_ms).await?;
        let evaluation = rules::evaluate(&self.rules, facts, &open, &silences);
        let created_ms = (self.clock)();
        let notifications: Vec<NewNotification> = evaluation
            .notifications
            .iter()
            .filter_map(|n| {
                let target = self.delivery.target(&n.receiver)?;
                Some(NewNotification {
                    webhook_id: new_webhook_id(),
                    receiver: n.receiver.clone(),
                    rule: n.rule.clone(),
                    cluster: n.cluster.clone(),
                    status: payload::overall_status(n),
                    alerts: i64::try_from(n.alerts.len()).unwrap_or(i64::MAX),
                    body: payload::render(target.kind, &n.receiver, n, &self.options.external_url),
                    created_ms,
                })
            })
            .collect();
        let summary = EvaluationSummary {
            changed: evaluation.upserts.len() + evaluation.removed.len(),
            resolved: evaluation.upserts.iter().filter(|a| a.resolved_ms == Some(facts.now_ms)).count(),
            notifications: notifications.len(),
        };
        let changes = AlertChanges { upserts: evaluation.upserts, removed: evaluation.removed, notifications };
        self.store.apply_alert_changes(&changes).await?;
        if summary.notifications > 0 {
            self.delivery.wake();
        }
        self.prune_now_and_then(created_ms).await;
        Ok(summary)
    }

    async fn prune_now_and_then(&self, now_ms: i64) {
        let last = self.last_prune_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < PRUNE_EVERY_MS {
            return;
        }
        self.last_prune_ms.store(now_ms, Ordering::Relaxed);
        let keep = i64::try_from(self.options.keep_history.as_millis()).unwrap_or(i64::MAX);
        match self.store.prune_alerts(now_ms.saturating_sub(keep)).await {
            Ok(pruned) => tracing::debug!(?pruned, "alerts: history pruned"),
            Err(e) => tracing::warn!(error = %e, "alerts: cannot prune history"),
        }
    }

    /// Sends the outbox until `shutdown` resolves (spawn it once). Requests in flight at shutdown
    /// are abandoned and sent again after the next start.
    pub async fn run_delivery(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        Arc::clone(&self.delivery).run(shutdown).await;
    }

    /// Active and recently resolved alerts, with who silences them.
    pub async fn overview(&self, recent_limit: i64) -> Result<AlertsOverview, AlertsError> {
        let now = (self.clock)();
        let silences = self.store.silences_ending_after(now).await?;
        let view = |alert: AlertRecord| AlertView {
            severity: alert.labels.get("severity").cloned().unwrap_or_default(),
            silenced_by: rules::silenced_by(&alert.labels, &silences, now).map(|s| s.id),
            alert,
        };
        let active = self.store.active_alerts().await?.into_iter().map(view).collect();
        let recent = self.store.resolved_alerts(recent_limit).await?.into_iter().map(view).collect();
        Ok(AlertsOverview { active, recent })
    }

    /// The newest notifications (pending, delivered, failed), newest first.
    pub async fn notifications(&self, limit: i64) -> Result<Vec<OutboxEntry>, AlertsError> {
        Ok(self.store.outbox_entries(limit).await?)
    }

    /// The newest delivery attempts, newest first.
    pub async fn delivery_log(&self, limit: i64) -> Result<Vec<DeliveryLogEntry>, AlertsError> {
        Ok(self.store.delivery_log(limit).await?)
    }

    /// Active silences and those that ended within the last day, ending soonest first.
    pub async fn silences(&self) -> Result<Vec<SilenceRecord>, AlertsError> {
        Ok(self.store.silences_ending_after((self.clock)() - 86_400_000).await?)
    }

    /// Creates a silence starting now. Admin-only: the web layer checks the caller.
    pub async fn create_silence(&self, request: SilenceRequest) -> Result<SilenceRecord, AlertsError> {
        let target = request.target.trim();
        if target.is_empty() {
            return Err(AlertsError::InvalidSilence("the group or rule to silence is empty".into()));
        }
        if request.duration.is_zero() || request.duration > MAX_SILENCE {
            return Err(AlertsError::InvalidSilence("the duration must be between 1 ms and 366 days".into()));
        }
        if request.matcher == SilenceMatcher::Rule && !self.rules.iter().any(|r| r.name == target) {
            return Err(AlertsError::InvalidSilence(format!("no rule is named \"{target}\"")));
        }
        let now = (self.clock)();
        let silence = NewSilence {
            matcher: request.matcher,
            target: target.to_string(),
            cluster: request.cluster.filter(|c| !c.is_empty()),
            comment: request.comment,
            created_by: request.created_by,
            created_ms: now,
            ends_ms: now.saturating_add(i64::try_from(request.duration.as_millis()).unwrap_or(i64::MAX)),
        };
        Ok(self.store.insert_silence(&silence).await?)
    }

    /// Ends a silence now; `false` when it was not active.
    pub async fn delete_silence(&self, id: i64) -> Result<bool, AlertsError> {
        Ok(self.store.end_silence(id, (self.clock)()).await?)
    }

    /// Delivery attempts by receiver and outcome since start (`warren_alert_deliveries_total`).
    pub fn counters(&self) -> Vec<DeliveryCount> {
        self.delivery.counters()
    }

    /// Notifications waiting for delivery (a gauge).
    pub async fn pending_notifications(&self) -> Result<i64, AlertsError> {
        Ok(self.store.outbox_pending_count().await?)
    }

    /// The number of recorded delivery attempts; changes after each (for live pages and tests).
    pub fn delivery_progress(&self) -> watch::Receiver<u64> {
        self.delivery.progress()
    }

    /// The configured rules, in config order (for the alerts page).
    pub fn rules(&self) -> Vec<RuleSummary> {
        self.rules
            .iter()
            .map(|r| RuleSummary {
                name: r.name.clone(),
                kind: r.kind.as_str(),
                severity: r.severity,
                status: r.status,
                threshold: r.threshold,
                filter: r.filter_text.clone(),
                for_ms: r.for_ms,
                repeat_interval_ms: r.repeat_ms,
                receivers: r.receivers.clone(),
            })
            .collect()
    }
}

/// One configured rule, as the alerts page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleSummary {
    pub name: String,
    pub kind: &'static str,
    pub severity: &'static str,
    pub status: Option<crate::evaluator::GroupState>,
    pub threshold: Option<f64>,
    /// The `groups` or `topics` regex as written.
    pub filter: Option<String>,
    pub for_ms: i64,
    pub repeat_interval_ms: i64,
    pub receivers: Vec<String>,
}

/// A fresh `webhook-id`: `msg_` and 32 hex digits.
fn new_webhook_id() -> String {
    format!("msg_{:016x}{:016x}", delivery::random_u64(), delivery::random_u64())
}
