//! The outbox worker: sends the notifications stored in SQLite, in order per receiver (one
//! request in flight per receiver, so a slow or rate-limited receiver holds up only itself and a
//! resolve never overtakes its firing). Each attempt and its outcome are written back before the
//! next one starts; a notification stays `pending` until an attempt ends it, so one interrupted
//! by a stop is sent again after the restart, with the same `webhook-id` and body (delivery is
//! at least once; receivers dedupe on the id).
//!
//! Requests to a `slack` receiver are spaced by `slack_min_interval` (1 s, Slack's rate limit).
//!
//! Outcomes: 2xx delivered. Timeouts, connection errors, 5xx, 408 and 429 are retried after an
//! exponential backoff with full jitter (uniform in `[0, min(max, initial·2^(n-1))]`), or after
//! `Retry-After` seconds when a 429 or 503 gives them; given up after `max_attempts` or
//! `give_up_after`. Redirects are not followed (the bearer token and signature would go with
//! them): 3xx and every other 4xx (410 included) are given up at once, the reason kept.
//! Waiting uses `tokio::time`, so it follows a paused clock too.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::payload::ReceiverKind;
use super::signing::{self, SigningKey};
use super::{AlertsConfigError, Clock};
use crate::config::Receiver;
use crate::store::{AttemptOutcome, AttemptRecord, PendingNotification, Store};

/// Delivery timing; the defaults follow monitoring.md §3.4 (about 1 s → 5 min).
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Whole-request timeout (connect, send, response).
    pub timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Attempts before giving up, the first included.
    pub max_attempts: u32,
    /// Age (since enqueued) after which a failing notification is given up.
    pub give_up_after: Duration,
    /// Upper bound on a receiver's `Retry-After`.
    pub retry_after_max: Duration,
    /// How long the worker sleeps with nothing scheduled (enqueues wake it at once).
    pub idle_poll: Duration,
    /// The least time between two requests to one `slack` receiver (Slack's rate limit).
    pub slack_min_interval: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_attempts: 24,
            give_up_after: Duration::from_secs(24 * 3600),
            retry_after_max: Duration::from_secs(3600),
            idle_poll: Duration::from_secs(60),
            slack_min_interval: Duration::from_secs(1),
        }
    }
}

/// A validated receiver: where and how to send.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub kind: ReceiverKind,
    url: reqwest::Url,
    headers: HeaderMap,
    key: Option<SigningKey>,
}

/// Headers warren sets itself, which `headers` may not override.
const RESERVED_HEADERS: [&str; 6] =
    ["webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length", "host"];

/// Validates `[[alerts.receivers]]`.
pub(super) fn compile_receivers(receivers: &[Receiver]) -> Result<BTreeMap<String, Target>, AlertsConfigError> {
    let mut targets = BTreeMap::new();
    for (i, r) in receivers.iter().enumerate() {
        let err = |field: &str, reason: String| AlertsConfigError {
            key: format!("alerts.receivers[{i}].{field} (receiver \"{}\")", r.name),
            reason,
        };
        if r.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        if targets.contains_key(&r.name) {
            return Err(err("name", "another receiver has the same name".into()));
        }
        let kind = ReceiverKind::parse(&r.kind).ok_or_else(|| {
            err("kind", format!("unknown kind \"{}\"; expected one of alertmanager, slack, generic", r.kind))
        })?;
        let url = reqwest::Url::parse(&r.url).map_err(|e| err("url", format!("\"{}\" is not a URL: {e}", r.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err("url", format!("\"{}\" is not an http:// or https:// URL", r.url)));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &r.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| err("headers", format!("\"{name}\" is not a valid header name")))?;
            if RESERVED_HEADERS.contains(&header.as_str()) || (header == AUTHORIZATION && r.bearer_token.is_some()) {
                return Err(err("headers", format!("\"{name}\" is set by warren itself")));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| err("headers", format!("the value of \"{name}\" is not a valid header value")))?;
            headers.insert(header, value);
        }
        if let Some(token) = &r.bearer_token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .ok()
                .filter(|_| !token.is_empty())
                .ok_or_else(|| err("bearer_token", "must be a non-empty header-safe string".into()))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let key = r
            .hmac_secret
            .as_deref()
            .map(SigningKey::from_secret)
            .transpose()
            .map_err(|reason| err("hmac_secret", reason))?;
        targets.insert(r.name.clone(), Target { kind, url, headers, key });
    }
    Ok(targets)
}

/// The HTTP client every receiver shares.
pub(super) fn client(options: &DeliveryOptions) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("warren/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What one HTTP attempt came to.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Delivered(u16),
    Retry { status: Option<u16>, error: String, retry_after: Option<Duration> },
    GiveUp { status: Option<u16>, error: String },
}

/// Deliveries of one receiver with one outcome, since start (a Prometheus counter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryCount {
    pub receiver: String,
    pub outcome: AttemptOutcome,
    pub count: u64,
}

/// The worker and what it shares with the engine.
pub(super) struct Deliverer {
    store: Store,
    client: reqwest::Client,
    targets: BTreeMap<String, Target>,
    options: DeliveryOptions,
    clock: Clock,
    wake: Notify,
    counters: Mutex<BTreeMap<(String, AttemptOutcome), u64>>,
    progress: watch::Sender<u64>,
}

impl Deliverer {
    pub fn new(
        store: Store,
        client: reqwest::Client,
        targets: BTreeMap<String, Target>,
        options: DeliveryOptions,
        clock: Clock,
    ) -> Deliverer {
        let (progress, _) = watch::channel(0);
        Deliverer { store, client, targets, options, clock, wake: Notify::new(), counters: Mutex::default(), progress }
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.get(name)
    }

    /// Tells the worker the outbox changed (a stored permit, so a wake is never lost).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Counts recorded attempts; changes after each one is stored.
    pub fn progress(&self) -> watch::Receiver<u64> {
        self.progress.subscribe()
    }

    pub fn counters(&self) -> Vec<DeliveryCount> {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters
            .iter()
            .map(|((receiver, outcome), count)| DeliveryCount {
                receiver: receiver.clone(),
                outcome: *outcome,
                count: *count,
            })
            .collect()
    }

    /// Runs until `shutdown` resolves; requests then in flight are dropped (and sent again by the
    /// next start).
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut in_flight = JoinSet::new();
        let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut last_start: HashMap<String, tokio::time::Instant> = HashMap::new();
        loop {
            let wait = match self.store.outbox_heads().await {
                Ok(heads) => {
                    let now = (self.clock)();
                    let mut wait = self.options.idle_poll;
                    for head in heads {
                        if busy.values().any(|r| *r == head.receiver) {
                            continue;
                        }
                        if head.next_attempt_ms > now {
                            wait = wait.min(millis_duration(head.next_attempt_ms - now));
                            continue;
                        }
                        let ready = last_start.get(&head.receiver).map(|t| *t + self.min_interval(&head.receiver));
                        if let Some(ready) = ready.filter(|r| *r > tokio::time::Instant::now()) {
                            wait = wait.min(ready - tokio::time::Instant::now());
                            continue;
                        }
                        last_start.insert(head.receiver.clone(), tokio::time::Instant::now());
                        let receiver = head.receiver.clone();
                        let this = Arc::clone(&self);
                        let handle = in_flight.spawn(async move { this.attempt(head).await });
                        busy.insert(handle.id(), receiver);
                    }
                    wait
                }
                Err(e) => {
                    tracing::warn!(error = %e, "alerts: cannot read the outbox; trying again in 1 s");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(e) => {
                            tracing::error!(error = %e, "alerts: a delivery task failed");
                            e.id()
                        }
                    };
                    busy.remove(&id);
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
        in_flight.abort_all();
    }

    /// The least time between two requests to a receiver: Slack allows about one a second.
    fn min_interval(&self, receiver: &str) -> Duration {
        match self.targets.get(receiver) {
            Some(t) if t.kind == ReceiverKind::Slack => self.options.slack_min_interval,
            _ => Duration::ZERO,
        }
    }

    /// One attempt at the receiver's oldest pending notification, recorded before returning.
    async fn attempt(&self, head: PendingNotification) {
        let attempt = head.attempts + 1;
        let ts_ms = (self.clock)();
        let started = tokio::time::Instant::now();
        let verdict = match self.targets.get(&head.receiver) {
            Some(target) => send(&self.client, target, &head.webhook_id, &head.body, ts_ms.div_euclid(1000)).await,
            None => Verdict::GiveUp {
                status: None,
                error: format!("receiver \"{}\" is no longer configured", head.receiver),
            },
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let now = (self.clock)();
        let age = millis_duration(now - head.created_ms);
        let (outcome, status_code, error, next_attempt_ms) = match verdict {
            Verdict::Delivered(status) => (AttemptOutcome::Delivered, Some(status), None, now),
            Verdict::GiveUp { status, error } => (AttemptOutcome::Failed, status, Some(error), now),
            Verdict::Retry { status, error, .. } if attempt >= i64::from(self.options.max_attempts) => {
                (AttemptOutcome::Failed, status, Some(format!("gave up after {attempt} attempts: {error}")), now)
            }
            Verdict::Retry { status, error, .. } if age >= self.options.give_up_after => {
                let age_s = age.as_secs();
                (AttemptOutcome::Failed, status, Some(format!("gave up after {age_s} s of retries: {error}")), now)
            }
            Verdict::Retry { status, error, retry_after } => {
                let delay = match retry_after {
                    Some(d) => d.min(self.options.retry_after_max),
                    None => backoff(&self.options, attempt),
                };
                let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                (AttemptOutcome::Retry, status, Some(error), now.saturating_add(delay_ms))
            }
        };
        match outcome {
            AttemptOutcome::Delivered => {
                tracing::debug!(receiver = %head.receiver, id = head.id, attempt, "alerts: notification delivered")
            }
            AttemptOutcome::Retry => tracing::info!(
                receiver = %head.receiver, id = head.id, attempt, error = error.as_deref().unwrap_or(""),
                "alerts: delivery failed; will retry"
            ),
            AttemptOutcome::Failed => tracing::warn!(
                receiver = %head.receiver, id = head.id, attempt, error = error.as_deref().unwrap_or(""),
                "alerts: notification given up"
            ),
        }
        let record = AttemptRecord {
            outbox_id: head.id,
            attempt,
            ts_ms,
            duration_ms,
            status_code,
            error,
            outcome,
            next_attempt_ms,
        };
        if let Err(e) = self.store.record_delivery_attempt(&record).await {
            // The row stays as it was: the attempt is repeated (at least once, never lost), after
            // a pause so a failing store does not turn into a tight loop of requests.
            tracing::error!(error = %e, id = head.id, "alerts: cannot record a delivery attempt");
            tokio::time::sleep(Duration::from_secs(1)).await;
            return;
        }
        *self.counters.lock().unwrap_or_else(|e| e.into_inner()).entry((head.receiver, outcome)).or_insert(0) += 1;
        self.progress.send_modify(|n| *n += 1);
    }
}

fn millis_duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Full jitter: uniform in `[0, min(max, initial · 2^(attempt-1))]`.
fn backoff(options: &DeliveryOptions, attempt: i64) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(30);
    let ceiling = options.backoff_initial.saturating_mul(1 << exponent).min(options.backoff_max);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(random_u64() % ceiling_ms.saturating_add(1))
}

/// Unpredictable bits from std's randomly keyed SipHash (jitter and ids need no more).
pub(super) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Sends one request and classifies the outcome.
async fn send(client: &reqwest::Client, target: &Target, webhook_id: &str, body: &str, timestamp_s: i64) -> Verdict {
    let mut request =
        client.post(target.url.clone()).headers(target.headers.clone()).header(CONTENT_TYPE, "application/json");
    match &target.key {
        Some(key) => {
            for (name, value) in signing::headers(key, webhook_id, timestamp_s, body.as_bytes()) {
                request = request.header(name, value);
            }
        }
        // Unsigned requests still carry the id, so receivers can dedupe retries.
        None => request = request.header("webhook-id", webhook_id),
    }
    let response = match request.body(body.to_string()).send().await {
        Ok(response) => response,
        Err(e) if e.is_builder() => return Verdict::GiveUp { status: None, error: error_chain(e, &target.url) },
        Err(e) => return Verdict::Retry { status: None, error: error_chain(e, &target.url), retry_after: None },
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let code = status.as_u16();
    if status.is_success() {
        return Verdict::Delivered(code);
    }
    let reason = redact_url(&format!("HTTP {code}{}", snippet(response).await), &target.url);
    match code {
        408 | 429 | 500..=599 => {
            let retry_after = retry_after.filter(|_| matches!(code, 429 | 503));
            Verdict::Retry { status: Some(code), error: reason, retry_after }
        }
        300..=399 => Verdict::GiveUp { status: Some(code), error: format!("{reason} (redirects are not followed)") },
        _ => Verdict::GiveUp { status: Some(code), error: reason },
    }
}

/// The start of an error response's body, as `": text"` (empty when there is none).
async fn snippet(mut response: reqwest::Response) -> String {
    const MAX: usize = 300;
    let mut bytes = Vec::new();
    while bytes.len() < MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// An error with its causes, `a: b: c` (reqwest's own message hides the useful part), without
/// the receiver's URL: its path is often the secret (Slack's hooks), and this text is stored,
/// logged and shown on the alerts page.
fn error_chain(e: reqwest::Error, url: &reqwest::Url) -> String {
    if e.is_timeout() {
        return "request timed out".to_string();
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    redact_url(&text, url)
}

/// `text` with every appearance of `url`, or of its path and query, replaced by a placeholder.
fn redact_url(text: &str, url: &reqwest::Url) -> String {
    let mut out = text.replace(url.as_str(), "<receiver url>");
    let tail = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    if tail.len() > 1 {
        out = out.replace(&tail, "/<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_the_cap() {
        let options = DeliveryOptions {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..DeliveryOptions::default()
        };
        for (attempt, ceiling) in [(1, 100), (2, 200), (4, 800), (5, 1000), (60, 1000)] {
            let delays: Vec<u128> = (0..200).map(|_| backoff(&options, attempt).as_millis()).collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "attempt {attempt}: {delays:?}");
            // Jitter spreads the delays over the range rather than pinning them to the ceiling.
            assert!(delays.iter().any(|d| *d < ceiling / 2), "attempt {attempt}");
            assert!(delays.iter().any(|d| *d > ceiling / 2), "attempt {attempt}");
        }
    }
}
