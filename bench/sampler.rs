//! One sampler tick at scale: a synthetic cluster of P partitions and G groups of K partitions
//! each goes through the monitor's real tick (Burrow windows, evaluation, lag seconds, the view)
//! and the real SQLite store (one transaction per tick), N ticks in a row.
//!
//! `sampler [--partitions 10000] [--groups 1000] [--group-partitions 10] [--ticks 70]`
//! Prints the tick time (evaluate and store, p50 and max), the memory the monitor holds (resident
//! set growth over the run; 70 ticks fill every window and history), and the database bytes per
//! stored sample.

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Parser;
use server::evaluator::EvalConfig;
use server::monitor::snapshot::{CommitSnapshot, GroupSnapshot, MemberSnapshot, Snapshot};
use server::monitor::ClusterState;
use server::store::Store;

#[path = "synthetic.rs"]
mod synthetic;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    partitions: usize,
    #[arg(long, default_value_t = 1_000)]
    groups: usize,
    #[arg(long, default_value_t = 10)]
    group_partitions: usize,
    #[arg(long, default_value_t = 70)]
    ticks: usize,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Tick `t` of the synthetic cluster: topics of 10 partitions; every partition grows 100 records a
/// tick; group g reads K partitions of topic g % topics, committing 90 a tick (so lag grows).
fn snapshot(args: &Args, t: usize, ts_ms: i64) -> Snapshot {
    let topics = args.partitions.div_ceil(10);
    let mut topic_map = BTreeMap::new();
    let mut partitions = Vec::with_capacity(args.partitions);
    for i in 0..args.partitions {
        let topic = format!("topic-{:05}", i / 10);
        partitions.push(synthetic::partition(&topic, (i % 10) as i32, (t as i64 + 1) * 100));
        topic_map.insert(topic, synthetic::topic(10));
    }
    let groups = (0..args.groups)
        .map(|g| {
            let topic = format!("topic-{:05}", g % topics);
            GroupSnapshot {
                read_committed: None,
                group_id: format!("group-{g:05}"),
                state: "Stable".into(),
                members: vec![MemberSnapshot {
                    member_id: format!("member-{g}"),
                    client_id: "bench".into(),
                    client_host: "/10.0.0.1".into(),
                    partitions: vec![(topic.clone(), (0..args.group_partitions as i32).collect())],
                }],
                offsets: (0..args.group_partitions as i32)
                    .map(|p| CommitSnapshot {
                        topic: topic.clone(),
                        partition: p,
                        offset: t as i64 * 90,
                        commit_ts_ms: ts_ms - 500,
                    })
                    .collect(),
            }
        })
        .collect();
    Snapshot {
        ts_ms,
        controller_id: 1,
        brokers: synthetic::brokers(),
        topics: topic_map,
        partitions,
        groups,
        problems: Vec::new(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("warren.db")).await?;
    let mut state = ClusterState::new("bench", EvalConfig::default());
    let start_ms = 1_800_000_000_000i64;
    let mut evaluate = Vec::new();
    let mut write = Vec::new();
    let rss_before = rss_kib();
    let mut rss_after_first = 0;
    let mut samples = 0u64;
    for t in 0..args.ticks {
        let ts = start_ms + t as i64 * 10_000;
        let snap = snapshot(&args, t, ts);
        let started = Instant::now();
        // Lag seconds by interpolation (a source without log access: the costlier path).
        let (view, tick) = state.apply(snap, |_, _, _| None);
        evaluate.push(started.elapsed());
        let stored = Instant::now();
        store.write_tick(&tick).await?;
        write.push(stored.elapsed());
        samples += (tick.partitions.len() + tick.group_partitions.len() + tick.groups.len()) as u64;
        drop(view);
        if t == 0 {
            rss_after_first = rss_kib();
        }
    }
    let rss_end = rss_kib();
    let total: Vec<f64> = evaluate.iter().zip(&write).map(|(e, w)| (*e + *w).as_secs_f64() * 1000.0).collect();
    let ms = |v: &[std::time::Duration]| {
        let mut v: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (e50, emax) = ms(&evaluate);
    let (w50, wmax) = ms(&write);
    let mut sorted = total.clone();
    sorted.sort_by(f64::total_cmp);
    let size = store.size_bytes().await?;
    println!(
        "{} partitions, {} groups x {} partitions, {} ticks",
        args.partitions, args.groups, args.group_partitions, args.ticks
    );
    println!("evaluate: p50 {e50:.0} ms, max {emax:.0} ms; store: p50 {w50:.0} ms, max {wmax:.0} ms");
    println!("whole tick: p50 {:.0} ms, max {:.0} ms", sorted[sorted.len() / 2], sorted[sorted.len() - 1]);
    println!(
        "resident memory: {} MiB before the first tick, {} MiB after it, {} MiB after the last: {} MiB held by the monitor (windows, histories, view, SQLite cache)",
        rss_before / 1024,
        rss_after_first / 1024,
        rss_end / 1024,
        rss_end.saturating_sub(rss_before) / 1024
    );
    println!(
        "database: {} MiB for {samples} stored samples and their rollups: {:.0} bytes per sample",
        size >> 20,
        size as f64 / samples as f64
    );
    store.close().await;
    Ok(())
}
