//! The dashboard and `/metrics` at scale, for wrk: a warren web server whose monitored cluster
//! `bench` has 10,000 partitions and 1,000 groups (one of them, `big-group`, consuming a topic of
//! 1,000 partitions), with 7 days of history in SQLite (hourly ticks for a week, then 10-second
//! ticks for the last hour), served on 127.0.0.1:PORT until killed. `bench/dashboard.sh` runs it
//! and wrk.
//!
//! `dashboard [--port 18099] [--groups 1000] [--partitions 10000]`

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use server::evaluator::EvalConfig;
use server::monitor::snapshot::{CommitSnapshot, GroupSnapshot, MemberSnapshot, Snapshot};
use server::monitor::{ClusterState, Monitor};
use server::store::Store;

#[path = "synthetic.rs"]
mod synthetic;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 18099)]
    port: u16,
    #[arg(long, default_value_t = 1000)]
    groups: usize,
    #[arg(long, default_value_t = 10_000)]
    partitions: usize,
}

/// The cluster at tick `t`: topics of 10 partitions plus `big` (1,000 partitions), every
/// partition growing 100 a tick; groups of 10 partitions and `big-group` on `big`.
fn snapshot(args: &Args, t: i64, ts_ms: i64) -> Snapshot {
    let small_topics = (args.partitions - 1000) / 10;
    let mut topics = BTreeMap::new();
    let mut partitions = Vec::with_capacity(args.partitions);
    let mut add = |topic: String, n: i32| {
        topics.insert(topic.clone(), synthetic::topic(n));
        partitions.extend((0..n).map(|p| synthetic::partition(&topic, p, (t + 1) * 100)));
    };
    for i in 0..small_topics {
        add(format!("topic-{i:04}"), 10);
    }
    add("big".into(), 1000);
    let group = |name: String, topic: String, n: i32, behind: i64| GroupSnapshot {
        read_committed: None,
        group_id: name.clone(),
        state: "Stable".into(),
        members: vec![MemberSnapshot {
            member_id: format!("{name}-member"),
            client_id: "bench".into(),
            client_host: "/10.0.0.7".into(),
            partitions: vec![(topic.clone(), (0..n).collect())],
        }],
        offsets: (0..n)
            .map(|p| CommitSnapshot {
                topic: topic.clone(),
                partition: p,
                offset: ((t + 1) * 100 - behind).max(0),
                commit_ts_ms: ts_ms - 1000,
            })
            .collect(),
    };
    let mut groups: Vec<GroupSnapshot> = (0..args.groups - 1)
        .map(|g| group(format!("group-{g:04}"), format!("topic-{:04}", g % small_topics), 10, (g % 7) as i64 * 10))
        .collect();
    groups.push(group("big-group".into(), "big".into(), 1000, 50));
    Snapshot {
        ts_ms,
        controller_id: 1,
        brokers: synthetic::brokers(),
        topics,
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
    let monitor = Arc::new(Monitor::default());
    let mut state = ClusterState::new("bench", EvalConfig::default());
    let now = server::monitor::now_ms();
    let started = std::time::Instant::now();
    let week_ago = now - 7 * 86_400_000;
    let mut t = 0;
    // Hourly for a week, then every 10 s for the last hour.
    let times = (0..168).map(|h| week_ago + h * 3_600_000).chain((0..360).map(|i| now - 3_600_000 + i * 10_000));
    for ts in times {
        let (view, tick) = state.apply(snapshot(&args, t, ts), |_, _, _| None);
        store.write_tick(&tick).await?;
        monitor.publish(view);
        t += 1;
    }
    eprintln!(
        "history of {t} ticks written in {:.0} s; database {} MiB",
        started.elapsed().as_secs_f64(),
        store.size_bytes().await? >> 20
    );

    let mut listeners = Vec::new();
    for _ in 0..1 {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
    }
    let embedded =
        broker_core::Embedded::start(broker_core::ClusterConfig::new(dir.path().join("cluster"), 1), listeners)?;
    let alerts = server::alerts::Alerts::new(
        store.clone(),
        &server::config::AlertsSection::default(),
        server::alerts::AlertsOptions::default(),
        Arc::new(server::monitor::now_ms),
    )?;
    let app = server::web::AppState {
        connect: None,
        cluster: Some(Arc::clone(&embedded.cluster)),
        ready: Arc::new(AtomicBool::new(true)),
        read_only: false,
        admin_token: None,
        monitor,
        store,
        alerts_config: Arc::new(server::config::AlertsSection::default()),
        alerts,
        external: Arc::new(Vec::new()),
        clients: Arc::new(Default::default()),
        metrics: server::metrics::MetricsConfig { per_partition: true },
        hostname: "bench".into(),
        sample_interval_s: 10,
        allowed_hosts: Arc::new(vec!["127.0.0.1".into(), "localhost".into()]),
        streams: Arc::new(Default::default()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    eprintln!("serving on http://127.0.0.1:{}", args.port);
    axum::serve(listener, server::web::router(app)).await?;
    Ok(())
}
