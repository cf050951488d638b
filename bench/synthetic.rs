//! Pieces of synthetic snapshots shared by the monitor benchmarks: three brokers, partitions of
//! three replicas with leaders spread over them, and broker 3 out of the ISR of every tenth.

use std::collections::BTreeMap;

use server::monitor::snapshot::{BrokerSnapshot, Offsets, PartitionSnapshot, TopicSnapshot};

pub fn brokers() -> Vec<BrokerSnapshot> {
    (1..=3)
        .map(|id| BrokerSnapshot {
            id,
            host: "10.0.0.1".into(),
            port: 9091 + id,
            rack: None,
            up: true,
            replication_paused: None,
            size_bytes: None,
        })
        .collect()
}

pub fn topic(partitions: i32) -> TopicSnapshot {
    TopicSnapshot { partitions, internal: false, config: BTreeMap::new() }
}

pub fn partition(topic: &str, partition: i32, high_watermark: i64) -> PartitionSnapshot {
    let replicas: Vec<i32> = (0..3).map(|r| (partition + r) % 3 + 1).collect();
    let isr =
        if partition % 10 == 0 { replicas.iter().copied().filter(|r| *r != 3).collect() } else { replicas.clone() };
    PartitionSnapshot {
        topic: topic.to_string(),
        partition,
        internal: false,
        leader: replicas[0],
        leader_epoch: Some(0),
        isr,
        replicas,
        offline_replicas: Vec::new(),
        offsets: Some(Offsets {
            log_start_offset: 0,
            high_watermark,
            log_end_offset: None,
            last_stable_offset: None,
            data_end: None,
        }),
        size_bytes: None,
        follower_lag: Vec::new(),
    }
}
