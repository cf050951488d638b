//! The rules and their evaluation, pure: facts about one cluster at `now_ms` plus the alerts
//! already open go in; the new alert states and the notifications to enqueue come out. No I/O,
//! no clock. An alert is identified by its labels (`alertname` = rule name, `cluster`, the
//! subject's `group` / `topic`+`partition` / `broker`, and `severity`), and its fingerprint is
//! Prometheus's FNV-1a 64 signature of the sorted labels (the value Alertmanager shows), so it is
//! stable across restarts and versions. Life of an alert: the condition holds → `pending`; still
//! holding after `for` → `firing` and notified, again every `repeat_interval`; condition gone →
//! `resolved` (notified if its firing was), or dropped silently if it never fired. A silenced alert
//! keeps its state but notifies nothing, its resolution included (as in Alertmanager).

use crate::evaluator::GroupState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use regex::Regex;

use super::AlertsConfigError;
use crate::config::Rule;
use crate::store::{AlertPhase, AlertRecord, SilenceMatcher, SilenceRecord};

/// What the monitor knows about one cluster at one instant: the engine's only input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub cluster: String,
    pub now_ms: i64,
    pub groups: Vec<GroupFacts>,
    pub partitions: Vec<PartitionFacts>,
    pub brokers: Vec<BrokerFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupFacts {
    pub group: String,
    pub status: GroupState,
    pub total_lag: i64,
    pub max_lag_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionFacts {
    pub topic: String,
    pub partition: i32,
    pub under_replicated: bool,
    /// No leader (or the leader's broker is down).
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerFacts {
    pub id: i32,
    pub up: bool,
}

/// The `kind` of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    GroupStatus,
    GroupLag,
    GroupLagSeconds,
    UnderReplicated,
    OfflinePartitions,
    BrokerDown,
}

const KINDS: [(&str, RuleKind); 6] = [
    ("group_status", RuleKind::GroupStatus),
    ("group_lag", RuleKind::GroupLag),
    ("group_lag_seconds", RuleKind::GroupLagSeconds),
    ("under_replicated", RuleKind::UnderReplicated),
    ("offline_partitions", RuleKind::OfflinePartitions),
    ("broker_down", RuleKind::BrokerDown),
];

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        KINDS.iter().find(|(_, k)| *k == self).map_or("", |(name, _)| name)
    }

    fn is_group(self) -> bool {
        matches!(self, RuleKind::GroupStatus | RuleKind::GroupLag | RuleKind::GroupLagSeconds)
    }

    fn is_partition(self) -> bool {
        matches!(self, RuleKind::UnderReplicated | RuleKind::OfflinePartitions)
    }
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub name: String,
    pub kind: RuleKind,
    /// `group_status`: the least severe status that fires (`WARN` or `ERR`).
    pub status: Option<GroupState>,
    /// Lag kinds: fires when the value is strictly above.
    pub threshold: Option<f64>,
    pub for_ms: i64,
    pub repeat_ms: i64,
    /// Full-match regex on the group id (group kinds) or the topic (partition kinds).
    pub filter: Option<Regex>,
    /// The `groups` or `topics` regex as written.
    pub filter_text: Option<String>,
    pub receivers: Vec<String>,
    pub severity: &'static str,
}

/// `repeat_interval` when a rule does not set it (Alertmanager's default).
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Validates `[[alerts.rules]]` against the configured receiver names.
pub(super) fn compile(rules: &[Rule], receivers: &BTreeSet<&str>) -> Result<Vec<CompiledRule>, AlertsConfigError> {
    let mut seen = BTreeSet::new();
    let mut compiled = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let err = |field: &str, reason: String| AlertsConfigError {
            key: format!("alerts.rules[{i}].{field} (rule \"{}\")", rule.name),
            reason,
        };
        if rule.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        if !seen.insert(rule.name.as_str()) {
            return Err(err("name", "another rule has the same name".into()));
        }
        let kind = KINDS.iter().find(|(name, _)| *name == rule.kind).map(|(_, k)| *k).ok_or_else(|| {
            let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
            err("kind", format!("unknown kind \"{}\"; expected one of {}", rule.kind, names.join(", ")))
        })?;
        let status = match (kind, rule.status.as_deref()) {
            (RuleKind::GroupStatus, None) => {
                return Err(err("status", "missing: group_status rules need status = \"WARN\" or \"ERR\"".into()))
            }
            (RuleKind::GroupStatus, Some(s)) => match GroupState::parse(&s.to_ascii_uppercase()) {
                Some(status @ (GroupState::Warn | GroupState::Err)) => Some(status),
                _ => return Err(err("status", format!("\"{s}\" is not \"WARN\" or \"ERR\""))),
            },
            (_, Some(_)) => {
                return Err(err("status", format!("only group_status rules take status, not {}", rule.kind)))
            }
            (_, None) => None,
        };
        let needs_threshold = matches!(kind, RuleKind::GroupLag | RuleKind::GroupLagSeconds);
        let threshold = match (needs_threshold, rule.threshold) {
            (true, None) => {
                let unit = if kind == RuleKind::GroupLag { "records" } else { "seconds" };
                return Err(err("threshold", format!("missing: {} rules need a threshold in {unit}", rule.kind)));
            }
            (true, Some(t)) if !t.is_finite() || t < 0.0 => {
                return Err(err("threshold", format!("{t} is not a non-negative number")))
            }
            (false, Some(_)) => return Err(err("threshold", format!("{} rules take no threshold", rule.kind))),
            (_, t) => t,
        };
        let pattern = match (rule.groups.as_deref(), rule.topics.as_deref()) {
            (Some(_), _) if !kind.is_group() => {
                return Err(err("groups", format!("{} rules do not match groups", rule.kind)))
            }
            (_, Some(_)) if !kind.is_partition() => {
                return Err(err("topics", format!("{} rules do not match topics", rule.kind)))
            }
            (Some(g), _) => Some(("groups", g)),
            (_, Some(t)) => Some(("topics", t)),
            (None, None) => None,
        };
        let filter = match pattern {
            None => None,
            Some((field, text)) => Some(
                Regex::new(&format!("^(?:{text})$"))
                    .map_err(|e| err(field, format!("\"{text}\" is not a valid regex: {e}")))?,
            ),
        };
        let repeat = rule.repeat_interval.unwrap_or(DEFAULT_REPEAT_INTERVAL);
        if repeat.is_zero() {
            return Err(err("repeat_interval", "must be positive".into()));
        }
        let mut names = Vec::new();
        for r in &rule.receivers {
            if !receivers.contains(r.as_str()) {
                return Err(err("receivers", format!("no [[alerts.receivers]] is named \"{r}\"")));
            }
            if !names.contains(r) {
                names.push(r.clone());
            }
        }
        let severity = match (kind, status) {
            (RuleKind::GroupStatus, Some(GroupState::Err))
            | (RuleKind::OfflinePartitions | RuleKind::BrokerDown, _) => "critical",
            _ => "warning",
        };
        compiled.push(CompiledRule {
            name: rule.name.clone(),
            kind,
            status,
            threshold,
            for_ms: millis(rule.for_duration.unwrap_or_default()),
            repeat_ms: millis(repeat),
            filter,
            filter_text: pattern.map(|(_, text)| text.to_string()),
            receivers: names,
            severity,
        });
    }
    Ok(compiled)
}

/// Prometheus's label-set fingerprint: FNV-1a 64 over `name 0xff value 0xff` for the labels in
/// name order, as 16 lowercase hex digits.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[0xff]);
        add(value.as_bytes());
        add(&[0xff]);
    }
    format!("{hash:016x}")
}

/// The first active silence muting an alert with these labels, if any.
pub fn silenced_by<'a>(
    labels: &BTreeMap<String, String>,
    silences: &'a [SilenceRecord],
    now_ms: i64,
) -> Option<&'a SilenceRecord> {
    silences.iter().find(|s| {
        let label = match s.matcher {
            SilenceMatcher::Group => "group",
            SilenceMatcher::Rule => "alertname",
        };
        now_ms < s.ends_ms
            && labels.get(label) == Some(&s.target)
            && s.cluster.as_ref().is_none_or(|c| labels.get("cluster") == Some(c))
    })
}

/// One alert in a notification.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifiedAlert {
    pub firing: bool,
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_ms: i64,
    /// When it resolved (`None` while firing).
    pub ends_ms: Option<i64>,
}

/// The alerts of one rule to send to one receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub receiver: String,
    pub rule: String,
    pub cluster: String,
    pub alerts: Vec<NotifiedAlert>,
}

/// What one evaluation decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// New or changed alert states.
    pub upserts: Vec<AlertRecord>,
    /// Alerts that were pending and no longer hold (never fired, so nothing to resolve).
    pub removed: Vec<String>,
    pub notifications: Vec<Notification>,
}

struct Candidate<'r> {
    rule: &'r CompiledRule,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

/// Evaluates every rule against `facts`, given the cluster's `open` (pending and firing) alerts
/// and the silences; see the module documentation for the life of an alert.
pub fn evaluate(rules: &[CompiledRule], facts: &Facts, open: &[AlertRecord], silences: &[SilenceRecord]) -> Evaluation {
    let now = facts.now_ms;
    let mut candidates = BTreeMap::new();
    for rule in rules {
        for (labels, annotations) in matches(rule, facts) {
            candidates.insert(fingerprint(&labels), Candidate { rule, labels, annotations });
        }
    }
    let open: HashMap<&str, &AlertRecord> =
        open.iter().filter(|a| a.cluster == facts.cluster).map(|a| (a.fingerprint.as_str(), a)).collect();
    let mut out = Evaluation::default();
    let mut to_send: BTreeMap<&str, Vec<NotifiedAlert>> = BTreeMap::new();
    for (fp, c) in &candidates {
        let before = open.get(fp.as_str()).copied();
        let mut a = before.cloned().unwrap_or_else(|| AlertRecord {
            fingerprint: fp.clone(),
            cluster: facts.cluster.clone(),
            rule: c.rule.name.clone(),
            labels: c.labels.clone(),
            annotations: BTreeMap::new(),
            phase: AlertPhase::Pending,
            pending_since_ms: now,
            firing_since_ms: None,
            last_notified_ms: None,
            resolved_ms: None,
            last_eval_ms: now,
        });
        a.annotations.clone_from(&c.annotations);
        if a.phase == AlertPhase::Pending && now.saturating_sub(a.pending_since_ms) >= c.rule.for_ms {
            a.phase = AlertPhase::Firing;
            a.firing_since_ms = Some(now);
        }
        let due = a.last_notified_ms.is_none_or(|t| now.saturating_sub(t) >= c.rule.repeat_ms);
        if a.phase == AlertPhase::Firing
            && due
            && !c.rule.receivers.is_empty()
            && silenced_by(&a.labels, silences, now).is_none()
        {
            a.last_notified_ms = Some(now);
            to_send.entry(&c.rule.name).or_default().push(notified(&a, true));
        }
        if before.is_none_or(|b| differs(b, &a)) {
            a.last_eval_ms = now;
            out.upserts.push(a);
        }
    }
    let by_name: HashMap<&str, &CompiledRule> = rules.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut gone: Vec<&&AlertRecord> = open.values().filter(|a| !candidates.contains_key(&a.fingerprint)).collect();
    gone.sort_by(|x, y| x.fingerprint.cmp(&y.fingerprint));
    for before in gone {
        if before.phase == AlertPhase::Pending {
            out.removed.push(before.fingerprint.clone());
            continue;
        }
        let mut a = (*before).clone();
        a.phase = AlertPhase::Resolved;
        a.resolved_ms = Some(now);
        a.last_eval_ms = now;
        // A rule removed from the config resolves its alerts without notifying (no receivers).
        let rule = by_name.get(a.rule.as_str()).filter(|r| !r.receivers.is_empty());
        if let Some(rule) = rule {
            if a.last_notified_ms.is_some() && silenced_by(&a.labels, silences, now).is_none() {
                to_send.entry(&rule.name).or_default().push(notified(&a, false));
            }
        }
        out.upserts.push(a);
    }
    for (rule_name, alerts) in to_send {
        let Some(rule) = by_name.get(rule_name) else { continue };
        for receiver in &rule.receivers {
            out.notifications.push(Notification {
                receiver: receiver.clone(),
                rule: rule.name.clone(),
                cluster: facts.cluster.clone(),
                alerts: alerts.clone(),
            });
        }
    }
    out
}

/// Whether a state changed in a way worth writing (not just `last_eval_ms`).
fn differs(before: &AlertRecord, after: &AlertRecord) -> bool {
    before.phase != after.phase
        || before.annotations != after.annotations
        || before.firing_since_ms != after.firing_since_ms
        || before.last_notified_ms != after.last_notified_ms
}

fn notified(a: &AlertRecord, firing: bool) -> NotifiedAlert {
    NotifiedAlert {
        firing,
        fingerprint: a.fingerprint.clone(),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        starts_ms: a.pending_since_ms,
        ends_ms: if firing { None } else { a.resolved_ms },
    }
}

type Labelled = (BTreeMap<String, String>, BTreeMap<String, String>);

/// The label and annotation sets of every subject for which `rule`'s condition holds now.
fn matches(rule: &CompiledRule, facts: &Facts) -> Vec<Labelled> {
    let base = |subject: Vec<(&str, String)>| {
        let mut labels = BTreeMap::from([
            ("alertname".to_string(), rule.name.clone()),
            ("cluster".to_string(), facts.cluster.clone()),
            ("severity".to_string(), rule.severity.to_string()),
        ]);
        labels.extend(subject.into_iter().map(|(k, v)| (k.to_string(), v)));
        labels
    };
    let annotate = |summary: String, description: String| {
        BTreeMap::from([("summary".to_string(), summary), ("description".to_string(), description)])
    };
    let allowed = |name: &str| rule.filter.as_ref().is_none_or(|re| re.is_match(name));
    let cluster = &facts.cluster;
    let mut out = Vec::new();
    if rule.kind.is_group() {
        for g in facts.groups.iter().filter(|g| allowed(&g.group)) {
            let lag_s = g.max_lag_seconds.map_or(String::new(), |s| format!(", max lag {s:.0} s"));
            let detail = format!("total lag {} records{lag_s}", g.total_lag);
            let fired = match rule.kind {
                RuleKind::GroupStatus => rule.status.is_some_and(|min| g.status >= min).then(|| {
                    (
                        format!("Consumer group {} is {}", g.group, g.status),
                        format!("Group {} in cluster {cluster} has status {} ({detail}).", g.group, g.status),
                    )
                }),
                RuleKind::GroupLag => {
                    let t = rule.threshold.unwrap_or(f64::INFINITY);
                    (g.total_lag as f64 > t).then(|| {
                        (
                            format!("Consumer group {} is {} records behind", g.group, g.total_lag),
                            format!("Group {} in cluster {cluster} is above {t} records of lag ({detail}).", g.group),
                        )
                    })
                }
                _ => {
                    let t = rule.threshold.unwrap_or(f64::INFINITY);
                    g.max_lag_seconds.filter(|s| *s > t).map(|s| {
                        (
                            format!("Consumer group {} is {s:.0} s behind", g.group),
                            format!("Group {} in cluster {cluster} is above {t} s of lag ({detail}).", g.group),
                        )
                    })
                }
            };
            if let Some((summary, description)) = fired {
                out.push((base(vec![("group", g.group.clone())]), annotate(summary, description)));
            }
        }
    } else if rule.kind.is_partition() {
        for p in facts.partitions.iter().filter(|p| allowed(&p.topic)) {
            let (holds, state, why) = match rule.kind {
                RuleKind::UnderReplicated => {
                    (p.under_replicated, "under-replicated", "fewer in-sync replicas than replicas")
                }
                _ => (p.offline, "offline", "no leader in service"),
            };
            if holds {
                let labels = base(vec![("topic", p.topic.clone()), ("partition", p.partition.to_string())]);
                let summary = format!("Partition {}-{} is {state}", p.topic, p.partition);
                let description =
                    format!("Partition {}-{} in cluster {cluster} is {state} ({why}).", p.topic, p.partition);
                out.push((labels, annotate(summary, description)));
            }
        }
    } else {
        for b in facts.brokers.iter().filter(|b| !b.up) {
            let labels = base(vec![("broker", b.id.to_string())]);
            let summary = format!("Broker {} is down", b.id);
            out.push((labels, annotate(summary, format!("Broker {} of cluster {cluster} is down.", b.id))));
        }
    }
    out
}
