//! A consume-transform-produce loop with librdkafka, for the exactly-once test: reads `input`
//! read_committed in group `group`, writes `out:<value>` to `output` and the input offsets in the
//! same transaction (`send_offsets_to_transaction`), one transaction per poll batch. Prints
//! `committed <n>` after each commit; exits once its position reaches the end of every input
//! partition. The test kills it with SIGKILL halfway and starts it again.
//!
//! Usage: txn-loop BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID

use std::io::Write;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(30);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, input, output, group, transactional_id] = &args[..] else {
        eprintln!("usage: txn-loop BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID");
        std::process::exit(2);
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // The killed instance's membership ends soon, so its successor is assigned quickly.
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
    consumer.subscribe(&[input.as_str()]).expect("subscribe");
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", transactional_id)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    producer.init_transactions(T).expect("init_transactions");
    let mut committed = 0usize;
    let mut idle_since = Instant::now();
    loop {
        let mut batch = Vec::new();
        while batch.len() < 10 {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => batch.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned()),
                Some(Err(e)) => panic!("consume: {e}"),
                None => break,
            }
        }
        if batch.is_empty() {
            if at_end(&consumer, input) || idle_since.elapsed() > Duration::from_secs(60) {
                return;
            }
            continue;
        }
        idle_since = Instant::now();
        producer.begin_transaction().expect("begin");
        for value in &batch {
            let out = format!("out:{value}");
            producer
                .send(BaseRecord::<str, str>::to(output).payload(&out).key(value))
                .map_err(|(e, _)| e)
                .expect("send");
        }
        // Give a kill a chance to land inside the transaction.
        std::thread::sleep(Duration::from_millis(20));
        let positions = consumer.position().expect("position");
        let metadata = consumer.group_metadata().expect("group metadata");
        producer.send_offsets_to_transaction(&positions, &metadata, T).expect("send offsets");
        producer.commit_transaction(T).expect("commit");
        committed += batch.len();
        println!("committed {committed}");
        let _ = std::io::stdout().flush();
    }
}

/// Whether the consumer's position is at the end of every assigned partition.
fn at_end(consumer: &BaseConsumer, topic: &str) -> bool {
    let Ok(assignment) = consumer.assignment() else { return false };
    if assignment.count() == 0 {
        return false;
    }
    let Ok(positions) = consumer.position() else { return false };
    let mut ends = TopicPartitionList::new();
    for e in assignment.elements_for_topic(topic) {
        let Ok((_, high)) = consumer.fetch_watermarks(topic, e.partition(), T) else { return false };
        let _ = ends.add_partition_offset(topic, e.partition(), Offset::Offset(high));
    }
    ends.elements().iter().all(|end| {
        positions
            .find_partition(topic, end.partition())
            .is_some_and(|p| matches!((p.offset(), end.offset()), (Offset::Offset(a), Offset::Offset(b)) if a >= b))
    })
}
