//! The transaction coordinator in process, with three brokers: the answers Kafka's coordinator
//! gives through a transaction's life, idempotent retries, fencing, the replay of
//! `__transaction_state` after a reopen, and the expiry of idle ids.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::ResponseError as E;

use crate::cluster::{Cluster, ClusterConfig, NewTopic};

struct Running {
    cluster: Arc<Cluster>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn open(dir: &std::path::Path) -> Running {
    let config = ClusterConfig::new(dir.to_path_buf(), 3);
    let addrs: Vec<SocketAddr> = (0..3).map(|i| SocketAddr::from(([127, 0, 0, 1], 29_092 + i))).collect();
    let cluster = Cluster::open(config, &addrs).expect("open");
    cluster.ensure_transaction_state().expect("__transaction_state");
    if !cluster.has_topic("t") {
        cluster
            .create_topic(&NewTopic { name: "t".into(), partitions: Some(2), ..NewTopic::default() }, false)
            .expect("t");
    }
    let tasks = cluster.spawn_background();
    Running { cluster, tasks }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_through_its_life_as_kafkas_coordinator_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = open(dir.path());
    let c = &running.cluster;
    let parts = [("t".to_string(), 0), ("t".to_string(), 1)];
    assert_eq!(c.init_transactional_producer(None, "tx", 0, None).await, Err(E::InvalidTransactionTimeout));
    assert_eq!(c.init_transactional_producer(None, "", 1000, None).await, Err(E::InvalidRequest));
    let (pid, epoch) = c.init_transactional_producer(None, "tx", 60_000, None).await.expect("init");
    assert_eq!(epoch, 0);
    assert_eq!(c.add_partitions_to_txn(None, "nobody", pid, 0, &parts).await, Err(E::InvalidProducerIdMapping));
    assert_eq!(c.add_partitions_to_txn(None, "tx", pid + 1, 0, &parts).await, Err(E::InvalidProducerIdMapping));
    assert_eq!(c.add_partitions_to_txn(None, "tx", pid, 7, &parts).await, Err(E::ProducerFenced));
    assert_eq!(c.end_txn(None, "tx", pid, 0, true).await, Err(E::InvalidTxnState), "nothing to end");
    c.add_partitions_to_txn(None, "tx", pid, 0, &parts).await.expect("add");
    c.add_partitions_to_txn(None, "tx", pid, 0, &parts[..1]).await.expect("a subset again: no write");
    c.add_offsets_to_txn(None, "tx", pid, 0, "g").await.expect("add offsets");
    let d = c.describe_transaction("tx").expect("described");
    assert_eq!((d.state.name(), d.partitions.len()), ("Ongoing", 3));
    // Offsets committed in the transaction wait for it (OffsetFetch with require_stable would
    // answer UNSTABLE_OFFSET_COMMIT), then count from its commit marker.
    let committer = |group_pid: i64| crate::group::txn_offsets::TxnCommitter {
        transactional_id: "tx".into(),
        producer_id: group_pid,
        producer_epoch: 0,
        member_id: String::new(),
        group_instance_id: None,
        generation_id: -1,
    };
    let offset = |o| crate::group::coordinator::OffsetCommit {
        topic: "t".into(),
        partition: 0,
        offset: o,
        leader_epoch: -1,
        metadata: None,
    };
    let results = c.txn_commit_offsets(None, "g", &committer(pid), vec![offset(5)]).await;
    assert_eq!(results, vec![Ok(())]);
    let refused = c.txn_commit_offsets(None, "other-group", &committer(pid), vec![offset(9)]).await;
    assert_eq!(refused, vec![Err(E::InvalidTxnState)], "its __consumer_offsets partition was not added");
    assert_eq!(c.pending_txn_partitions("g"), std::collections::HashSet::from([("t".to_string(), 0)]));
    assert!(c.committed_offsets("g").is_none_or(|o| o.is_empty()));
    c.end_txn(None, "tx", pid, 0, true).await.expect("commit");
    assert!(c.pending_txn_partitions("g").is_empty());
    assert_eq!(c.committed_offsets("g").expect("g")[&("t".to_string(), 0)].offset, 5);
    let d = c.describe_transaction("tx").expect("described");
    assert_eq!((d.state.name(), d.partitions.len()), ("CompleteCommit", 0), "EndTxn answered once complete");
    for p in 0..2 {
        let leader = c.leader_replica("t", p).expect("leader");
        assert_eq!(leader.high_watermark(), 1, "the commit marker on t-{p}");
        assert_eq!(leader.last_stable_offset(), 1);
    }
    c.end_txn(None, "tx", pid, 0, true).await.expect("a retried commit is answered NONE");
    assert_eq!(c.end_txn(None, "tx", pid, 0, false).await, Err(E::InvalidTxnState), "abort after commit");
    // A new producer for the id bumps the epoch: the old one is fenced.
    let (pid2, epoch2) = c.init_transactional_producer(None, "tx", 60_000, None).await.expect("re-init");
    assert_eq!((pid2, epoch2), (pid, 1));
    assert_eq!(c.add_partitions_to_txn(None, "tx", pid, 0, &parts).await, Err(E::ProducerFenced));
    // An open transaction is aborted by the next InitProducerId, which is told to retry.
    c.add_partitions_to_txn(None, "tx", pid, 1, &parts[..1]).await.expect("add");
    assert_eq!(c.init_transactional_producer(None, "tx", 60_000, None).await, Err(E::ConcurrentTransactions));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let epoch = loop {
        match c.init_transactional_producer(None, "tx", 60_000, None).await {
            Ok((_, epoch)) => break epoch,
            Err(E::ConcurrentTransactions) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("init after the abort: {e}"),
        }
    };
    assert_eq!(epoch, 3, "fenced at 2 by the abort, then bumped again");
    let listed = c.list_transactions(None);
    assert_eq!(listed.iter().map(|d| d.transactional_id.as_str()).collect::<Vec<_>>(), ["tx"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_reopen_and_idle_ids_expire_with_a_tombstone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pid, epoch) = {
        let running = open(dir.path());
        let c = &running.cluster;
        let ids = c.init_transactional_producer(None, "kept", 60_000, None).await.expect("init");
        c.add_partitions_to_txn(None, "kept", ids.0, ids.1, &[("t".to_string(), 0)]).await.expect("add");
        c.end_txn(None, "kept", ids.0, ids.1, false).await.expect("abort");
        c.init_transactional_producer(None, "idle", 60_000, None).await.expect("init idle");
        c.shutdown();
        ids
    };
    let running = open(dir.path());
    let c = &running.cluster;
    let d = c.describe_transaction("kept").expect("replayed");
    assert_eq!((d.producer_id, d.producer_epoch, d.state.name()), (pid, epoch, "CompleteAbort"));
    assert!(c.describe_transaction("idle").is_some());
    let in_eight_days = crate::cluster::maintenance::now_ms() + 8 * 24 * 3600 * 1000;
    c.expire_transactional_ids(in_eight_days).await;
    assert!(c.describe_transaction("idle").is_none() && c.describe_transaction("kept").is_none());
    c.shutdown();
    drop(running);
    let running = open(dir.path());
    assert!(running.cluster.list_transactions(None).is_empty(), "the tombstones are replayed too");
}
