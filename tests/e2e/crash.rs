//! kill -9 of the whole process: every record acknowledged with acks=all is there after restart.

use std::time::Duration;

use warren_tests::{free_ports, WarrenProcess};

use crate::support::{assert_same, consume_all, produce, producer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_ports(3);
    let env = [("WARREN_CLUSTER__DEFAULT_PARTITIONS", "3")];
    let warren = WarrenProcess::spawn(dir.path(), 3, port, &env).expect("spawn");
    let b = warren.bootstrap();
    let p = producer(&b, &[("acks", "all"), ("compression.type", "lz4")]);
    let mut acked = produce(&p, "crash", 0..50_000).await;

    // Kill while a second run is in flight: whatever was acknowledged must survive.
    let p2 = producer(&b, &[("acks", "all"), ("message.timeout.ms", "20000")]);
    let in_flight = tokio::spawn(async move {
        let mut ok = std::collections::BTreeMap::new();
        let mut futures = Vec::new();
        for i in 50_000..80_000u64 {
            let rec = crate::support::record(i);
            let fr =
                rdkafka::producer::FutureRecord::<[u8], [u8]>::to("crash").key(rec.key.as_deref().unwrap_or_default());
            let fr = match &rec.value {
                Some(v) => fr.payload(v.as_slice()),
                None => fr,
            };
            if let Ok(f) = p2.send_result(fr) {
                futures.push((rec, f));
            }
        }
        for (rec, f) in futures {
            if let Ok(Ok(d)) = f.await {
                ok.insert((d.partition, d.offset), crate::support::Rec { headers: Vec::new(), ..rec });
            }
        }
        ok
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    warren.kill9().expect("kill -9");

    let warren = WarrenProcess::spawn(dir.path(), 3, port, &[]).expect("respawn");
    let late = in_flight.await.expect("in-flight producer");
    acked.extend(late);
    let read = consume_all(&warren.bootstrap(), "crash", 3, acked.len(), Duration::from_secs(60));
    assert_same(&acked, &read);
}
