//! The alert engine's tables (`migrations/0002_alerts.sql`): per-alert state, the notification
//! outbox, the delivery log and silences. One evaluation is one transaction holding its state
//! changes and the notifications they cause, so a crash never leaves an alert marked notified
//! without its notification stored (or the reverse). Each delivery attempt updates its outbox row
//! and appends its log line in one transaction. Labels and annotations are stored as JSON objects.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::error::query_error;
use super::{Store, StoreError};

/// Where an alert is in its life: condition seen (waiting out `for`), notifying, or over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertPhase {
    Pending,
    Firing,
    Resolved,
}

impl AlertPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertPhase::Pending => "pending",
            AlertPhase::Firing => "firing",
            AlertPhase::Resolved => "resolved",
        }
    }

    fn parse(text: &str) -> Option<AlertPhase> {
        [AlertPhase::Pending, AlertPhase::Firing, AlertPhase::Resolved].into_iter().find(|p| p.as_str() == text)
    }
}

impl std::fmt::Display for AlertPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert's persisted state, keyed by its fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub fingerprint: String,
    pub cluster: String,
    pub rule: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub phase: AlertPhase,
    /// When the condition was first seen in this episode.
    pub pending_since_ms: i64,
    pub firing_since_ms: Option<i64>,
    /// When a notification was last enqueued for this episode (`None`: never, e.g. silenced).
    pub last_notified_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    /// The evaluation that last wrote this row.
    pub last_eval_ms: i64,
}

/// A notification to store in the outbox (state `pending`, first attempt due at `created_ms`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// The Standard Webhooks `webhook-id`, sent unchanged on every attempt.
    pub webhook_id: String,
    pub receiver: String,
    pub rule: String,
    pub cluster: String,
    /// `firing` or `resolved` (the payload's overall status).
    pub status: &'static str,
    pub alerts: i64,
    /// The exact request body.
    pub body: String,
    pub created_ms: i64,
}

/// What one evaluation changes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct AlertChanges {
    pub upserts: Vec<AlertRecord>,
    /// Fingerprints whose rows go (alerts that never fired and whose condition cleared).
    pub removed: Vec<String>,
    pub notifications: Vec<NewNotification>,
}

/// The oldest pending notification of one receiver: what the delivery worker sends next.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingNotification {
    pub id: i64,
    pub webhook_id: String,
    pub receiver: String,
    pub body: String,
    pub created_ms: i64,
    pub attempts: i64,
    pub next_attempt_ms: i64,
}

/// How one HTTP attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    /// 2xx: the notification is done.
    Delivered,
    /// Timeout, connection error, 5xx, 408 or 429: tried again at `next_attempt_ms`.
    Retry,
    /// Another status, or out of attempts: given up, the reason kept.
    Failed,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<AttemptOutcome> {
        [AttemptOutcome::Delivered, AttemptOutcome::Retry, AttemptOutcome::Failed]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a notification is in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    /// Waiting for its (next) attempt.
    Pending,
    Delivered,
    /// Given up.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<OutboxState> {
        [OutboxState::Pending, OutboxState::Delivered, OutboxState::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// One attempt, as the delivery worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub outbox_id: i64,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub ts_ms: i64,
    pub duration_ms: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    /// When to try again (only read for `Retry`).
    pub next_attempt_ms: i64,
}

/// One outbox row for the alerts page (without its body).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub webhook_id: String,
    pub receiver: String,
    pub rule: String,
    pub cluster: String,
    /// `Firing` or `Resolved`.
    pub status: AlertPhase,
    pub alerts: i64,
    pub created_ms: i64,
    pub state: OutboxState,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub done_ms: Option<i64>,
}

/// One line of the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryLogEntry {
    pub outbox_id: i64,
    pub webhook_id: String,
    pub receiver: String,
    pub rule: String,
    pub cluster: String,
    pub attempt: i64,
    pub ts_ms: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
}

/// What a silence matches: every alert of a group, or every alert of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceMatcher {
    Group,
    Rule,
}

impl SilenceMatcher {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceMatcher::Group => "group",
            SilenceMatcher::Rule => "rule",
        }
    }

    fn parse(text: &str) -> Option<SilenceMatcher> {
        [SilenceMatcher::Group, SilenceMatcher::Rule].into_iter().find(|m| m.as_str() == text)
    }
}

/// A silence to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSilence {
    pub matcher: SilenceMatcher,
    pub target: String,
    /// `None` silences the target in every cluster.
    pub cluster: Option<String>,
    pub comment: String,
    pub created_by: String,
    pub created_ms: i64,
    pub ends_ms: i64,
}

/// A stored silence; active until `ends_ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilenceRecord {
    pub id: i64,
    pub matcher: SilenceMatcher,
    pub target: String,
    pub cluster: Option<String>,
    pub comment: String,
    pub created_by: String,
    pub created_ms: i64,
    pub ends_ms: i64,
}

/// Rows removed by [`Store::prune_alerts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrunedAlerts {
    pub resolved_alerts: u64,
    pub notifications: u64,
    pub silences: u64,
}

const STATE_COLUMNS: &str = "fingerprint, cluster, rule, labels, annotations, state, pending_since_ms, \
     firing_since_ms, last_notified_ms, resolved_ms, last_eval_ms";

const OUTBOX_COLUMNS: &str = "id, webhook_id, receiver, rule, cluster, status, alerts, created_ms, state, attempts, \
     next_attempt_ms, last_status, last_error, done_ms";

const SILENCE_COLUMNS: &str = "id, matcher, target, cluster, comment, created_by, created_ms, ends_ms";

impl Store {
    /// The pending and firing alerts of `cluster`: what the next evaluation starts from.
    pub async fn open_alerts(&self, cluster: &str) -> Result<Vec<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM alert_states WHERE cluster = ?1 AND state IN ('pending', 'firing') \
             ORDER BY fingerprint"
        );
        let rows =
            sqlx::query(&sql).bind(cluster).fetch_all(&self.pool).await.map_err(query_error("reading alerts"))?;
        rows.iter().map(alert_from_row).collect::<Result<_, _>>().map_err(query_error("decoding alerts"))
    }

    /// Every pending and firing alert of every cluster, firing first, then by rule and labels.
    pub async fn active_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM alert_states WHERE state IN ('pending', 'firing') \
             ORDER BY state = 'pending', cluster, rule, labels"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(query_error("reading active alerts"))?;
        rows.iter().map(alert_from_row).collect::<Result<_, _>>().map_err(query_error("decoding active alerts"))
    }

    /// The `limit` most recently resolved alerts, newest first.
    pub async fn resolved_alerts(&self, limit: i64) -> Result<Vec<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM alert_states WHERE state = 'resolved' ORDER BY resolved_ms DESC LIMIT ?1"
        );
        let rows = sqlx::query(&sql)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error("reading resolved alerts"))?;
        rows.iter().map(alert_from_row).collect::<Result<_, _>>().map_err(query_error("decoding resolved alerts"))
    }

    /// Writes one evaluation's state changes and notifications in one transaction.
    pub async fn apply_alert_changes(&self, changes: &AlertChanges) -> Result<(), StoreError> {
        let err = query_error("writing alert changes");
        let mut tx = self.pool.begin().await.map_err(err)?;
        let upsert = format!(
            "INSERT INTO alert_states ({STATE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (fingerprint) DO UPDATE SET cluster = excluded.cluster, rule = excluded.rule, \
             labels = excluded.labels, annotations = excluded.annotations, state = excluded.state, \
             pending_since_ms = excluded.pending_since_ms, firing_since_ms = excluded.firing_since_ms, \
             last_notified_ms = excluded.last_notified_ms, resolved_ms = excluded.resolved_ms, \
             last_eval_ms = excluded.last_eval_ms"
        );
        for a in &changes.upserts {
            sqlx::query(&upsert)
                .bind(&a.fingerprint)
                .bind(&a.cluster)
                .bind(&a.rule)
                .bind(json_object(&a.labels))
                .bind(json_object(&a.annotations))
                .bind(a.phase.as_str())
                .bind(a.pending_since_ms)
                .bind(a.firing_since_ms)
                .bind(a.last_notified_ms)
                .bind(a.resolved_ms)
                .bind(a.last_eval_ms)
                .execute(&mut *tx)
                .await
                .map_err(query_error("writing alert state"))?;
        }
        for fingerprint in &changes.removed {
            sqlx::query("DELETE FROM alert_states WHERE fingerprint = ?1")
                .bind(fingerprint)
                .execute(&mut *tx)
                .await
                .map_err(query_error("removing alert state"))?;
        }
        for n in &changes.notifications {
            sqlx::query(
                "INSERT INTO alert_outbox (webhook_id, receiver, rule, cluster, status, alerts, body, created_ms, \
                 state, attempts, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?8)",
            )
            .bind(&n.webhook_id)
            .bind(&n.receiver)
            .bind(&n.rule)
            .bind(&n.cluster)
            .bind(n.status)
            .bind(n.alerts)
            .bind(&n.body)
            .bind(n.created_ms)
            .execute(&mut *tx)
            .await
            .map_err(query_error("storing a notification"))?;
        }
        tx.commit().await.map_err(query_error("committing alert changes"))
    }

    /// The oldest pending notification of each receiver (delivery is in order per receiver).
    pub async fn outbox_heads(&self) -> Result<Vec<PendingNotification>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, webhook_id, receiver, body, created_ms, attempts, next_attempt_ms FROM alert_outbox \
             WHERE id IN (SELECT MIN(id) FROM alert_outbox WHERE state = 'pending' GROUP BY receiver) ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading the outbox"))?;
        rows.iter()
            .map(|row| {
                Ok(PendingNotification {
                    id: row.try_get(0)?,
                    webhook_id: row.try_get(1)?,
                    receiver: row.try_get(2)?,
                    body: row.try_get(3)?,
                    created_ms: row.try_get(4)?,
                    attempts: row.try_get(5)?,
                    next_attempt_ms: row.try_get(6)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("decoding the outbox"))
    }

    /// Records one attempt: updates its outbox row and appends to the delivery log.
    pub async fn record_delivery_attempt(&self, a: &AttemptRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(query_error("recording a delivery attempt"))?;
        let (state, done_ms) = match a.outcome {
            AttemptOutcome::Delivered => ("delivered", Some(a.ts_ms + a.duration_ms)),
            AttemptOutcome::Failed => ("failed", Some(a.ts_ms + a.duration_ms)),
            AttemptOutcome::Retry => ("pending", None),
        };
        sqlx::query(
            "UPDATE alert_outbox SET state = ?2, attempts = ?3, next_attempt_ms = ?4, last_status = ?5, \
             last_error = ?6, done_ms = ?7 WHERE id = ?1",
        )
        .bind(a.outbox_id)
        .bind(state)
        .bind(a.attempt)
        .bind(a.next_attempt_ms)
        .bind(a.status_code)
        .bind(&a.error)
        .bind(done_ms)
        .execute(&mut *tx)
        .await
        .map_err(query_error("updating the outbox"))?;
        sqlx::query(
            "INSERT OR REPLACE INTO alert_delivery_attempts \
             (outbox_id, attempt, ts_ms, duration_ms, status_code, error, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(a.outbox_id)
        .bind(a.attempt)
        .bind(a.ts_ms)
        .bind(a.duration_ms)
        .bind(a.status_code)
        .bind(&a.error)
        .bind(a.outcome.as_str())
        .execute(&mut *tx)
        .await
        .map_err(query_error("appending to the delivery log"))?;
        tx.commit().await.map_err(query_error("committing a delivery attempt"))
    }

    /// The `limit` newest notifications, newest first.
    pub async fn outbox_entries(&self, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM alert_outbox ORDER BY id DESC LIMIT ?1");
        let rows =
            sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await.map_err(query_error("reading notifications"))?;
        rows.iter()
            .map(|row| {
                Ok(OutboxEntry {
                    id: row.try_get(0)?,
                    webhook_id: row.try_get(1)?,
                    receiver: row.try_get(2)?,
                    rule: row.try_get(3)?,
                    cluster: row.try_get(4)?,
                    status: super::decode_status(row.try_get(5)?, AlertPhase::parse)?,
                    alerts: row.try_get(6)?,
                    created_ms: row.try_get(7)?,
                    state: super::decode_status(row.try_get(8)?, OutboxState::parse)?,
                    attempts: row.try_get(9)?,
                    next_attempt_ms: row.try_get(10)?,
                    last_status: row.try_get(11)?,
                    last_error: row.try_get(12)?,
                    done_ms: row.try_get(13)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("decoding notifications"))
    }

    /// How many notifications wait for delivery (a gauge for `/metrics`).
    pub async fn outbox_pending_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM alert_outbox WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await
            .map_err(query_error("counting pending notifications"))
    }

    /// The `limit` newest delivery attempts, newest first.
    pub async fn delivery_log(&self, limit: i64) -> Result<Vec<DeliveryLogEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.outbox_id, o.webhook_id, o.receiver, o.rule, o.cluster, a.attempt, a.ts_ms, a.duration_ms, \
                    a.status_code, a.error, a.outcome \
             FROM alert_delivery_attempts a JOIN alert_outbox o ON o.id = a.outbox_id \
             ORDER BY a.ts_ms DESC, a.outbox_id DESC, a.attempt DESC LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error("reading the delivery log"))?;
        rows.iter()
            .map(|row| {
                Ok(DeliveryLogEntry {
                    outbox_id: row.try_get(0)?,
                    webhook_id: row.try_get(1)?,
                    receiver: row.try_get(2)?,
                    rule: row.try_get(3)?,
                    cluster: row.try_get(4)?,
                    attempt: row.try_get(5)?,
                    ts_ms: row.try_get(6)?,
                    duration_ms: row.try_get(7)?,
                    status_code: row.try_get(8)?,
                    error: row.try_get(9)?,
                    outcome: super::decode_status(row.try_get(10)?, AttemptOutcome::parse)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(query_error("decoding the delivery log"))
    }

    /// Stores a silence and returns it with its id.
    pub async fn insert_silence(&self, s: &NewSilence) -> Result<SilenceRecord, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alert_silences (matcher, target, cluster, comment, created_by, created_ms, ends_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        )
        .bind(s.matcher.as_str())
        .bind(&s.target)
        .bind(&s.cluster)
        .bind(&s.comment)
        .bind(&s.created_by)
        .bind(s.created_ms)
        .bind(s.ends_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(query_error("storing a silence"))?;
        Ok(SilenceRecord {
            id,
            matcher: s.matcher,
            target: s.target.clone(),
            cluster: s.cluster.clone(),
            comment: s.comment.clone(),
            created_by: s.created_by.clone(),
            created_ms: s.created_ms,
            ends_ms: s.ends_ms,
        })
    }

    /// Silences that end after `after_ms` (active ones and, with an earlier bound, recent ones),
    /// ending soonest first.
    pub async fn silences_ending_after(&self, after_ms: i64) -> Result<Vec<SilenceRecord>, StoreError> {
        let sql = format!("SELECT {SILENCE_COLUMNS} FROM alert_silences WHERE ends_ms > ?1 ORDER BY ends_ms, id");
        let rows =
            sqlx::query(&sql).bind(after_ms).fetch_all(&self.pool).await.map_err(query_error("reading silences"))?;
        rows.iter().map(silence_from_row).collect::<Result<_, _>>().map_err(query_error("decoding silences"))
    }

    /// Ends silence `id` at `now_ms` (if it ends later); `false` when no such silence is active.
    pub async fn end_silence(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE alert_silences SET ends_ms = ?2 WHERE id = ?1 AND ends_ms > ?2")
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(query_error("ending a silence"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes resolved alerts, finished notifications (with their log lines) and silences that
    /// ended before `before_ms`.
    pub async fn prune_alerts(&self, before_ms: i64) -> Result<PrunedAlerts, StoreError> {
        let err = query_error("pruning alert history");
        let mut tx = self.pool.begin().await.map_err(err)?;
        let resolved = sqlx::query("DELETE FROM alert_states WHERE state = 'resolved' AND resolved_ms < ?1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await
            .map_err(query_error("pruning resolved alerts"))?;
        sqlx::query(
            "DELETE FROM alert_delivery_attempts WHERE outbox_id IN \
             (SELECT id FROM alert_outbox WHERE state <> 'pending' AND done_ms < ?1)",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await
        .map_err(query_error("pruning the delivery log"))?;
        let outbox = sqlx::query("DELETE FROM alert_outbox WHERE state <> 'pending' AND done_ms < ?1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await
            .map_err(query_error("pruning notifications"))?;
        let silences = sqlx::query("DELETE FROM alert_silences WHERE ends_ms < ?1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await
            .map_err(query_error("pruning silences"))?;
        tx.commit().await.map_err(query_error("committing the alert pruning"))?;
        Ok(PrunedAlerts {
            resolved_alerts: resolved.rows_affected(),
            notifications: outbox.rows_affected(),
            silences: silences.rows_affected(),
        })
    }
}

fn json_object(map: &BTreeMap<String, String>) -> String {
    // A map of strings always serializes; the fallback only keeps this total.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_string())
}

fn decode_error(what: String) -> sqlx::Error {
    sqlx::Error::Decode(what.into())
}

fn alert_from_row(row: &SqliteRow) -> Result<AlertRecord, sqlx::Error> {
    let labels: String = row.try_get(3)?;
    let annotations: String = row.try_get(4)?;
    let phase: String = row.try_get(5)?;
    Ok(AlertRecord {
        fingerprint: row.try_get(0)?,
        cluster: row.try_get(1)?,
        rule: row.try_get(2)?,
        labels: serde_json::from_str(&labels).map_err(|e| decode_error(format!("alert labels: {e}")))?,
        annotations: serde_json::from_str(&annotations).map_err(|e| decode_error(format!("alert annotations: {e}")))?,
        phase: AlertPhase::parse(&phase).ok_or_else(|| decode_error(format!("unknown alert state \"{phase}\"")))?,
        pending_since_ms: row.try_get(6)?,
        firing_since_ms: row.try_get(7)?,
        last_notified_ms: row.try_get(8)?,
        resolved_ms: row.try_get(9)?,
        last_eval_ms: row.try_get(10)?,
    })
}

fn silence_from_row(row: &SqliteRow) -> Result<SilenceRecord, sqlx::Error> {
    let matcher: String = row.try_get(1)?;
    Ok(SilenceRecord {
        id: row.try_get(0)?,
        matcher: SilenceMatcher::parse(&matcher)
            .ok_or_else(|| decode_error(format!("unknown silence matcher \"{matcher}\"")))?,
        target: row.try_get(2)?,
        cluster: row.try_get(3)?,
        comment: row.try_get(4)?,
        created_by: row.try_get(5)?,
        created_ms: row.try_get(6)?,
        ends_ms: row.try_get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(fingerprint: &str, phase: AlertPhase, resolved_ms: Option<i64>) -> AlertRecord {
        AlertRecord {
            fingerprint: fingerprint.into(),
            cluster: "local".into(),
            rule: "r".into(),
            labels: BTreeMap::from([("group".to_string(), "g \"quoted\"".to_string())]),
            annotations: BTreeMap::new(),
            phase,
            pending_since_ms: 1,
            firing_since_ms: Some(2),
            last_notified_ms: Some(2),
            resolved_ms,
            last_eval_ms: 3,
        }
    }

    fn notification(receiver: &str, created_ms: i64) -> NewNotification {
        NewNotification {
            webhook_id: format!("msg_{receiver}_{created_ms}"),
            receiver: receiver.into(),
            rule: "r".into(),
            cluster: "local".into(),
            status: "firing",
            alerts: 1,
            body: "{}".into(),
            created_ms,
        }
    }

    #[tokio::test]
    async fn alert_rows_round_trip_and_prune() {
        let store = Store::open_in_memory().await.expect("store");
        let changes = AlertChanges {
            upserts: vec![alert("a", AlertPhase::Firing, None), alert("b", AlertPhase::Resolved, Some(100))],
            removed: vec![],
            notifications: vec![notification("x", 10), notification("x", 11), notification("y", 12)],
        };
        store.apply_alert_changes(&changes).await.expect("apply");
        assert_eq!(store.open_alerts("local").await.expect("open"), [alert("a", AlertPhase::Firing, None)]);
        assert!(store.open_alerts("other").await.expect("open").is_empty());
        assert_eq!(store.resolved_alerts(10).await.expect("resolved").len(), 1);
        // The oldest pending row per receiver, due at its creation.
        let heads = store.outbox_heads().await.expect("heads");
        let heads: Vec<(&str, i64, i64)> =
            heads.iter().map(|h| (h.receiver.as_str(), h.created_ms, h.next_attempt_ms)).collect();
        assert_eq!(heads, [("x", 10, 10), ("y", 12, 12)]);
        let record = |outbox_id, attempt, outcome| AttemptRecord {
            outbox_id,
            attempt,
            ts_ms: 50,
            duration_ms: 5,
            status_code: Some(503),
            error: Some("HTTP 503".into()),
            outcome,
            next_attempt_ms: 70,
        };
        store.record_delivery_attempt(&record(1, 1, AttemptOutcome::Retry)).await.expect("retry");
        let x = store.outbox_heads().await.expect("heads");
        assert_eq!((x[0].id, x[0].attempts, x[0].next_attempt_ms), (1, 1, 70));
        store.record_delivery_attempt(&record(1, 2, AttemptOutcome::Failed)).await.expect("fail");
        assert_eq!(store.outbox_heads().await.expect("heads")[0].id, 2, "the next row of x");
        assert_eq!(store.outbox_pending_count().await.expect("count"), 2);
        let log = store.delivery_log(10).await.expect("log");
        assert_eq!(
            log.iter().map(|l| (l.attempt, l.outcome.as_str())).collect::<Vec<_>>(),
            [(2, "failed"), (1, "retry")]
        );
        let silence = NewSilence {
            matcher: SilenceMatcher::Group,
            target: "g".into(),
            cluster: None,
            comment: String::new(),
            created_by: "admin".into(),
            created_ms: 0,
            ends_ms: 60,
        };
        let id = store.insert_silence(&silence).await.expect("silence").id;
        assert_eq!(store.silences_ending_after(59).await.expect("silences").len(), 1);
        assert!(store.end_silence(id, 40).await.expect("end"));
        assert!(store.silences_ending_after(40).await.expect("silences").is_empty());
        // Pruning at 101 removes the alert resolved at 100, the failed row (done at 55) with its log
        // and the silence that ended at 40; the firing alert and pending rows stay.
        let pruned = store.prune_alerts(101).await.expect("prune");
        assert_eq!(pruned, PrunedAlerts { resolved_alerts: 1, notifications: 1, silences: 1 });
        assert!(store.delivery_log(10).await.expect("log").is_empty());
        assert_eq!(store.outbox_pending_count().await.expect("count"), 2);
        assert_eq!(store.active_alerts().await.expect("active").len(), 1);
    }
}
