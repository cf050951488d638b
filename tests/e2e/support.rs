//! Shared helpers for the scenarios: deterministic records, an rdkafka producer and consumer, and
//! a checker that compares what was acknowledged with what is read back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// One record as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Record `i` of a deterministic run: varied sizes, binary values, a null value now and then,
/// and headers (one with a null value).
pub fn record(i: u64) -> Rec {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF;
    let len = (x % 300) as usize;
    let value: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Rec {
        key: Some(format!("key-{i}").into_bytes()),
        value: if i % 97 == 13 { None } else { Some(value) },
        headers: vec![
            ("seq".into(), Some(i.to_be_bytes().to_vec())),
            ("empty".into(), if i.is_multiple_of(2) { None } else { Some(Vec::new()) }),
        ],
    }
}

pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("queue.buffering.max.messages", "1000000")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().expect("producer")
}

/// Produces records `range` to `topic` and returns `(partition, offset) -> record` for every
/// acknowledged one. Panics on any delivery error.
pub async fn produce(producer: &FutureProducer, topic: &str, range: std::ops::Range<u64>) -> BTreeMap<(i32, i64), Rec> {
    let mut futures = Vec::with_capacity((range.end - range.start) as usize);
    for i in range {
        let rec = record(i);
        let mut headers = OwnedHeaders::new();
        for (k, v) in &rec.headers {
            headers = headers.insert(Header { key: k, value: v.as_deref() });
        }
        let mut fr = FutureRecord::<[u8], [u8]>::to(topic).headers(headers);
        if let Some(k) = &rec.key {
            fr = fr.key(k.as_slice());
        }
        if let Some(v) = &rec.value {
            fr = fr.payload(v.as_slice());
        }
        let fut = producer.send_result(fr).map_err(|(e, _)| e).expect("enqueue");
        futures.push((rec, fut));
    }
    let mut acked = BTreeMap::new();
    for (rec, fut) in futures {
        let delivery = fut.await.expect("delivery future").map_err(|(e, _)| e).expect("delivered");
        assert!(acked.insert((delivery.partition, delivery.offset), rec).is_none(), "offset acknowledged twice");
    }
    acked
}

/// Reads every partition of `topic` from the beginning up to its high watermark (taken when the
/// read starts) and at least `expected` records, or until `timeout` passes.
pub fn consume_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
    timeout: Duration,
) -> BTreeMap<(i32, i64), Rec> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        // librdkafka's assign() needs a group id even when nothing is committed.
        .set("group.id", "warren-tests-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("consumer");
    let deadline = Instant::now() + timeout;
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        let high = loop {
            match consumer.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                Ok((_, high)) => break high,
                Err(e) if Instant::now() > deadline => panic!("watermarks of {topic}/{p}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        ends.insert(p, high);
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = BTreeMap::new();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let done = |out: &BTreeMap<(i32, i64), Rec>, next: &BTreeMap<i32, i64>| {
        out.len() >= expected && ends.iter().all(|(p, high)| next.get(p).copied().unwrap_or(0) >= *high)
    };
    while !done(&out, &next) && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec))).collect())
                    .unwrap_or_default();
                let rec = Rec { key: m.key().map(<[u8]>::to_vec), value: m.payload().map(<[u8]>::to_vec), headers };
                next.insert(m.partition(), m.offset() + 1);
                assert!(out.insert((m.partition(), m.offset()), rec).is_none(), "offset delivered twice");
            }
            Some(Err(e)) => panic!("consumer error: {e}"),
            None => {}
        }
    }
    out
}

/// Every acknowledged record is read back byte for byte, and offsets are contiguous from 0 in
/// every partition.
pub fn assert_same(acked: &BTreeMap<(i32, i64), Rec>, read: &BTreeMap<(i32, i64), Rec>) {
    for (at, rec) in acked {
        match read.get(at) {
            Some(got) => assert_eq!(got, rec, "record at {at:?} differs"),
            None => panic!("acknowledged record at {at:?} is missing ({} read)", read.len()),
        }
    }
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for (partition, offset) in read.keys() {
        let expect = next.entry(*partition).or_insert(0);
        assert_eq!(*offset, *expect, "offsets not contiguous in partition {partition}");
        *expect += 1;
    }
}
