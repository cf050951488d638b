//! Monitoring an external cluster over the Kafka protocol: one sampling pass (Metadata,
//! ListOffsets latest and earliest, ListGroups, DescribeGroups, OffsetFetch per group, and the
//! record-timestamp fetches) against a separate warren process holding P partitions and G groups
//! that committed K partitions each.
//!
//! `external BOOTSTRAP [--topics 600] [--partitions-per-topic 10] [--groups 1000] [--group-partitions 10] [--passes 5]`
//! Creates the topics and commits, then times `passes` snapshots. Start the target with
//! `WARREN_CLUSTER__DEFAULT_REPLICATION_FACTOR=1` (see bench/README.md).

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Parser;
use server::kafka::{Client, ClientConfig, NewTopic};
use server::monitor::external::External;

#[derive(Parser)]
struct Args {
    bootstrap: String,
    #[arg(long, default_value_t = 600)]
    topics: usize,
    #[arg(long, default_value_t = 10)]
    partitions_per_topic: i32,
    #[arg(long, default_value_t = 1000)]
    groups: usize,
    #[arg(long, default_value_t = 10)]
    group_partitions: i32,
    #[arg(long, default_value_t = 5)]
    passes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::connect(ClientConfig::from_list(&args.bootstrap)).await?;
    let setup = Instant::now();
    for t in 0..args.topics {
        let topic = NewTopic {
            name: format!("ext-{t:04}"),
            partitions: Some(args.partitions_per_topic),
            ..NewTopic::default()
        };
        if let Err(e) = client.create_topic(&topic).await {
            if !e.to_string().contains("already exists") {
                return Err(e.into());
            }
        }
    }
    for g in 0..args.groups {
        let topic = format!("ext-{:04}", g % args.topics);
        let offsets: BTreeMap<(String, i32), i64> =
            (0..args.group_partitions.min(args.partitions_per_topic)).map(|p| ((topic.clone(), p), 0)).collect();
        client.offset_commit(&format!("ext-group-{g:04}"), -1, "", &offsets).await?;
    }
    println!(
        "set up {} partitions and {} groups in {:.0} s",
        args.topics * args.partitions_per_topic as usize,
        args.groups,
        setup.elapsed().as_secs_f64()
    );
    let external = External::new(Client::new(ClientConfig::from_list(&args.bootstrap)));
    let mut times = Vec::new();
    for pass in 0..args.passes {
        let started = Instant::now();
        let snapshot = external.snapshot(server::monitor::now_ms()).await.map_err(|e| anyhow::anyhow!(e))?;
        let took = started.elapsed().as_secs_f64() * 1000.0;
        println!(
            "pass {}: {} partitions, {} groups, {} committed offsets in {took:.0} ms (commit times from __consumer_offsets: {})",
            pass + 1,
            snapshot.partitions.len(),
            snapshot.groups.len(),
            snapshot.groups.iter().map(|g| g.offsets.len()).sum::<usize>(),
            external.commit_times_from_offsets_topic().await
        );
        times.push(took);
    }
    times.sort_by(f64::total_cmp);
    println!("sampling pass: median {:.0} ms, max {:.0} ms", times[times.len() / 2], times[times.len() - 1]);
    Ok(())
}
