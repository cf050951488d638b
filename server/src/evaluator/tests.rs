//! End-to-end checks of the evaluator against burrow.md §4: every row of the verdict table under
//! both rule sets, and the live g_warn scenario. Commits and broker samples go through
//! `ingest_commit` in time order, as the storage would see them, then `evaluate_group` judges.

use super::*;

const NOW_MS: i64 = 1_700_000_000_000;

/// A commit on topic `static`: (partition, offset, milliseconds before the check).
type Commit = (i32, i64, i64);

/// `offsets` on `partition`, `gap_ms` apart, the last one 5 s before the check.
fn spaced(partition: i32, offsets: &[i64], gap_ms: i64) -> Vec<Commit> {
    let n = offsets.len() as i64;
    offsets.iter().zip(0..).map(|(&offset, i)| (partition, offset, 5_000 + (n - 1 - i) * gap_ms)).collect()
}

fn steps(from: i64, to: i64, step: i64) -> Vec<i64> {
    (from..=to).step_by(step as usize).collect()
}

/// The §4 setup: topic `static`, 2 partitions whose end offset stays at 1000, sampled every
/// 10 s; so every commit's lag is `1000 - offset`.
fn static_topic(config: &EvalConfig) -> BrokerWindows {
    let ring = BrokerWindow::from_samples(
        (0..config.intervals as i64)
            .rev()
            .map(|i| BrokerSample { offset: 1000, timestamp_ms: NOW_MS - 1_000 - i * 10_000 }),
        config.intervals,
    );
    BrokerWindows::from([("static".to_string(), vec![ring.clone(), ring])])
}

fn evaluate(commits: &[Commit], rules: RuleSet) -> GroupStatus {
    let config = EvalConfig { rules, ..EvalConfig::default() };
    let brokers = static_topic(&config);
    let mut commits = commits.to_vec();
    commits.sort_by_key(|&(_, _, age_ms)| std::cmp::Reverse(age_ms));
    let mut group = GroupWindows::default();
    for (partition, offset, age_ms) in commits {
        let timestamp_ms = NOW_MS - age_ms;
        let broker = &brokers["static"][partition as usize];
        group.ingest_commit("static", partition, OffsetCommit { offset, timestamp_ms }, broker, timestamp_ms, &config);
    }
    evaluate_group(&group, &brokers, NOW_MS, &config)
}

fn render(status: &GroupStatus) -> String {
    let max = status.max_lag.as_ref().map_or("null".to_string(), |p| format!("{}-{}", p.topic, p.partition));
    let mut out = format!("{} complete={} totallag={} maxlag={max}", status.status, status.complete, status.total_lag);
    for p in &status.partitions {
        out += &format!(" | {}-{} {} lag={} complete={}", p.topic, p.partition, p.status, p.current_lag, p.complete);
    }
    out
}

/// Evaluates one row under 1.2.1 and 1.3.7+; `v137: None` means "same as 1.2.1".
fn check(name: &str, commits: &[Commit], v121: &str, v137: Option<&str>) {
    assert_eq!(render(&evaluate(commits, RuleSet::Burrow121)), v121, "{name} under 1.2.1");
    assert_eq!(render(&evaluate(commits, RuleSet::Burrow137)), v137.unwrap_or(v121), "{name} under 1.3.7");
}

#[test]
fn verdict_table() {
    let minute = 60_000;
    check(
        "g_ok",
        &spaced(0, &steps(100, 1000, 100), minute),
        "OK complete=0.5 totallag=0 maxlag=static-0 | static-0 OK lag=0 complete=1 | static-1 OK lag=0 complete=0",
        None,
    );
    check(
        "g_stall",
        &spaced(0, &[500; 10], minute),
        "ERR complete=0.5 totallag=500 maxlag=static-0 | static-0 STALL lag=500 complete=1 | static-1 OK lag=0 complete=0",
        None,
    );
    // 9 commits spanning 2400 s, the last 3600 s before the check.
    let stop: Vec<Commit> = [100, 200, 300, 400, 500, 600, 700, 800, 950]
        .into_iter()
        .zip(0..)
        .map(|(offset, i)| (0, offset, 3_600_000 + (8 - i) * 300_000))
        .collect();
    check(
        "g_stop",
        &stop,
        "ERR complete=0 totallag=50 maxlag=static-0 | static-0 STOP lag=50 complete=0.9 | static-1 OK lag=0 complete=0",
        None,
    );
    check(
        "g_rewind",
        &spaced(0, &[100, 200, 300, 400, 500, 150, 160, 170, 180, 190], minute),
        "ERR complete=0.5 totallag=810 maxlag=static-0 | static-0 REWIND lag=810 complete=1 | static-1 OK lag=0 complete=0",
        None,
    );
    check(
        "g_rewind_recovered",
        &spaced(0, &[100, 200, 300, 250, 350, 450, 550, 650, 750, 850], minute),
        "ERR complete=0.5 totallag=150 maxlag=static-0 | static-0 REWIND lag=150 complete=1 | static-1 OK lag=0 complete=0",
        Some("OK complete=0.5 totallag=150 maxlag=static-0 | static-0 OK lag=150 complete=1 | static-1 OK lag=0 complete=0"),
    );
    check(
        "g_rewind_masked",
        &spaced(0, &[900, 950, 1000, 980, 985, 990], minute),
        "OK complete=0 totallag=10 maxlag=static-0 | static-0 OK lag=10 complete=0.6 | static-1 OK lag=0 complete=0",
        Some("ERR complete=0 totallag=10 maxlag=static-0 | static-0 REWIND lag=10 complete=0.6 | static-1 OK lag=0 complete=0"),
    );
    check(
        "g_single",
        &spaced(1, &[400], minute),
        "ERR complete=0 totallag=600 maxlag=static-1 | static-0 OK lag=0 complete=0 | static-1 STOP lag=600 complete=0.1",
        None,
    );
    check(
        "g_partial",
        &spaced(1, &steps(100, 500, 100), minute),
        "OK complete=0 totallag=500 maxlag=static-1 | static-0 OK lag=0 complete=0 | static-1 OK lag=500 complete=0.5",
        None,
    );
    let multi = [spaced(0, &steps(100, 1000, 100), minute), spaced(1, &[300; 10], minute)].concat();
    check(
        "g_multi",
        &multi,
        "ERR complete=1 totallag=700 maxlag=static-1 | static-0 OK lag=0 complete=1 | static-1 STALL lag=700 complete=1",
        None,
    );
    // 10 commits 200 ms apart collapse into 2 slots (complete 0.2) spanning 1 s: STOP.
    check(
        "g_mindist",
        &spaced(0, &steps(10, 100, 10), 200),
        "ERR complete=0 totallag=900 maxlag=static-0 | static-0 STOP lag=900 complete=0.2 | static-1 OK lag=0 complete=0",
        None,
    );
}

/// g_warn, live: a consumer keeps up for 10 commits 2 s apart, then commits +20 per 2 s while
/// the end offset grows +200 per 2 s. The broker is sampled just before every commit, or only
/// every `sample_every`-th. Returns the statuses of the lagging phase, evaluated 1 s after each
/// commit.
fn live(rules: RuleSet, sample_every: i64) -> String {
    let config = EvalConfig { rules, ..EvalConfig::default() };
    let (mut end, mut offset) = (0, 0);
    let mut broker = BrokerWindow::default();
    let mut group = GroupWindows::default();
    let mut statuses = Vec::new();
    for step in 0..22 {
        let t = NOW_MS + step * 2_000;
        (end, offset) = if step < 10 { (end + 20, offset + 20) } else { (end + 200, offset + 20) };
        if step % sample_every == 0 {
            broker.push(BrokerSample { offset: end, timestamp_ms: t }, &config);
        }
        group.ingest_commit("static", 0, OffsetCommit { offset, timestamp_ms: t + 100 }, &broker, t + 100, &config);
        let brokers = BrokerWindows::from([("static".to_string(), vec![broker.clone()])]);
        let status = evaluate_group(&group, &brokers, t + 1_100, &config);
        if step >= 10 {
            statuses.push(status.status.as_str());
        }
    }
    statuses.join(" ")
}

#[test]
fn warn_live() {
    for rules in [RuleSet::Burrow121, RuleSet::Burrow137] {
        // Zero-lag entries mask the rising lag until the 10th lagging commit pushes the last one
        // out of the ring; from then on the ring is full and monotone: WARN.
        assert_eq!(live(rules, 1), [["OK"; 9].join(" "), ["WARN"; 3].join(" ")].join(" "), "{rules:?}");
        // Sampled every 10 s (Burrow's offset-refresh), commits between two samples lower the lag,
        // so the same slow consumer never reaches WARN.
        assert_eq!(live(rules, 5), ["OK"; 12].join(" "), "{rules:?}");
    }
}

#[test]
fn group_status_json_matches_burrow() {
    let status = evaluate(&spaced(1, &[400], 60_000), RuleSet::Burrow137);
    let json = serde_json::to_value(&status).expect("serialize");
    let single = serde_json::json!({
        "topic": "static", "partition": 1, "owner": "", "client_id": "", "status": "STOP",
        "start": {"offset": 400, "timestamp": NOW_MS - 5_000, "lag": 600},
        "end": {"offset": 400, "timestamp": NOW_MS - 5_000, "lag": 600},
        "current_lag": 600, "complete": 0.1
    });
    assert_eq!(json["status"], "ERR");
    assert_eq!(json["maxlag"], single);
    assert_eq!(json["partitions"][1], single);
    assert_eq!(json["partitions"][0]["start"], serde_json::Value::Null);
    assert_eq!((json["partition_count"].as_u64(), json["totallag"].as_i64()), (Some(2), Some(600)));
}
