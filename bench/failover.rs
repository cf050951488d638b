//! Failover time: from a leader broker's stop to the first record acknowledged by the new leader,
//! as a raw protocol client sees it (a fresh connection straight to the new leader: the broker's
//! share) and as a librdkafka producer does (the `rdkafka` crate with default retry and metadata
//! settings, acks=all: what an application sees). An embedded 3-broker cluster runs in this
//! process; each run stops the leader of the partition, times both, then restarts the broker and
//! waits until it leads again.
//!
//! `failover [--runs 20] [--client-debug]` prints every run and the p50/p99/max;
//! `--client-debug` adds librdkafka's own broker, topic and metadata log on stderr, which shows
//! where a client's time goes after a broker stops.

use std::time::{Duration, Instant};

use broker_core::NewTopic;
use broker_core::{ClusterConfig, Embedded};
use clap::Parser;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Print librdkafka's debug log (broker, topic, metadata, msg) with milliseconds since start.
    #[arg(long)]
    client_debug: bool,
}

/// Prints librdkafka's log lines with a millisecond clock, when asked to.
struct Client {
    started: Instant,
    debug: bool,
}

impl rdkafka::ClientContext for Client {
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, facility: &str, message: &str) {
        if self.debug {
            eprintln!("{:9.1} ms {facility} {message}", self.started.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

async fn send(producer: &FutureProducer<Client>, i: usize) -> anyhow::Result<()> {
    let payload = format!("record {i}");
    producer
        .send(FutureRecord::<(), str>::to("failover").payload(&payload), Duration::from_secs(30))
        .await
        .map_err(|(e, _)| anyhow::anyhow!("delivery failed: {e}"))?;
    Ok(())
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("warren-failover-{}", std::process::id()));
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
    }
    let bootstrap = listeners[0].local_addr()?.to_string();
    let embedded = Embedded::start(ClusterConfig::new(dir.clone(), 3), listeners)?;
    let cluster = std::sync::Arc::clone(&embedded.cluster);
    let topic =
        NewTopic { name: "failover".into(), partitions: Some(1), replication_factor: Some(3), ..NewTopic::default() };
    cluster.create_topic(&topic, false).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &bootstrap).set("acks", "all");
    if args.client_debug {
        config.set("debug", "broker,topic,metadata,msg").set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
    }
    let producer: FutureProducer<Client> =
        config.create_with_context(Client { started: Instant::now(), debug: args.client_debug })?;
    let leader = || cluster.metadata().partition("failover", 0).map_or(-1, |p| p.leader);
    let preferred = leader();
    send(&producer, 0).await?;

    let (mut broker_side, mut client_side) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let old = leader();
        let stopped = Instant::now();
        if args.client_debug {
            eprintln!("===== run {run}: stopping broker {old}");
        }
        let c = std::sync::Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || c.stop_broker(old)).await?.map_err(|e| anyhow::anyhow!("{e}"))?;
        let elected = stopped.elapsed();
        // What the broker can do: a raw acks=all produce on a fresh connection to the new leader.
        let addr = cluster.broker(leader()).map(|b| b.addr).ok_or_else(|| anyhow::anyhow!("no leader elected"))?;
        let code = raw_produce(addr).await?;
        anyhow::ensure!(code == 0, "the new leader refused a produce with error {code}");
        let raw = stopped.elapsed();
        // What a real client sees: librdkafka notices the dead broker and finds the new leader.
        send(&producer, run).await?;
        let took = stopped.elapsed();
        println!(
            "run {run:2}: broker {old} stopped; broker {} elected after {:.1} ms; raw produce acknowledged after {:.1} ms; librdkafka's after {:.1} ms",
            leader(),
            elected.as_secs_f64() * 1000.0,
            raw.as_secs_f64() * 1000.0,
            took.as_secs_f64() * 1000.0
        );
        broker_side.push(raw);
        client_side.push(took);
        broker_core::start_broker(&cluster, old).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        wait_for("the preferred leader to return", || leader() == preferred).await?;
        send(&producer, run).await?;
    }
    for (name, mut times) in [("raw protocol client", broker_side), ("librdkafka (default settings)", client_side)] {
        times.sort_unstable();
        let ms = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0;
        println!(
            "failover seen by {name} over {} runs: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            times.len(),
            ms(0.5),
            ms(0.99),
            ms(1.0)
        );
    }
    embedded.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// One acks=all produce over a fresh connection, straight through the codec (no client logic).
async fn raw_produce(addr: std::net::SocketAddr) -> anyhow::Result<i16> {
    use bytes::BytesMut;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let record =
        broker_core::formats::PlainRecord { value: Some(bytes::Bytes::from_static(b"raw")), ..Default::default() };
    let batch = broker_core::formats::encode_plain([record], 0).map_err(|e| anyhow::anyhow!(e))?;
    let req =
        ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![TopicProduceData::default(
        )
        .with_name(TopicName(StrBytes::from_static_str("failover")))
        .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(batch.freeze()))])]);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0; 4]);
    RequestHeader::default()
        .with_request_api_key(0)
        .with_request_api_version(9)
        .with_correlation_id(1)
        .encode(&mut buf, 2)?;
    req.encode(&mut buf, 9)?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(&buf).await?;
    let size = s.read_i32().await?;
    let mut body = vec![0u8; size as usize];
    s.read_exact(&mut body).await?;
    let mut body = bytes::Bytes::from(body);
    ResponseHeader::decode(&mut body, 1)?;
    let resp = ProduceResponse::decode(&mut body, 9)?;
    Ok(resp.responses[0].partition_responses[0].error_code)
}
