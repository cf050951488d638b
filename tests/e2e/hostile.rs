//! Hostile input (issue 13): each request here once crashed, corrupted or exhausted warren. Each
//! is sent to a warren child process over loopback, and the safe outcome is asserted: a clear
//! error code, the process alive and serving, nothing else lost, and the memory high-water mark
//! (`VmHWM`) far below what the request used to cost.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use kafka_protocol::ResponseError;
use warren_tests::{free_ports, http, WarrenProcess};

use crate::wire::{call, frame};

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn topic(name: &str) -> TopicName {
    TopicName(s(name))
}

/// The child's peak resident memory, from /proc.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Descriptors the process holds on files under `dir`.
fn open_fds_under(pid: u32, dir: &std::path::Path) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok()).filter(|p| p.starts_with(dir)).count())
        .unwrap_or(0)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    s
}

/// The broker still answers: ApiVersions on a new connection.
fn alive(addr: SocketAddr) {
    let mut c = connect(addr);
    let resp: ApiVersionsResponse = call(&mut c, ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    assert_eq!(resp.error_code, 0);
}

/// Whether the broker closed `stream` (EOF or reset) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

fn record(offset: i64, value: Bytes, headers: Vec<(&str, Option<Bytes>)>) -> Record {
    Record {
        transactional: false,
        control: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        // In step with offsets, so the encoder writes one batch (base sequence -1).
        sequence: offset as i32 - 1,
        timestamp: 1_700_000_000_000 + offset,
        key: None,
        value: Some(value),
        headers: headers.into_iter().map(|(k, v)| (s(k), v)).collect(),
        delete_horizon: false,
    }
}

fn encode(records: &[Record], compression: Compression) -> BytesMut {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, records, &RecordEncodeOptions { version: 2, compression }).expect("encode");
    buf
}

/// A v2 batch header over `payload` (the records section as sent, compressed or not), with the
/// CRC computed: what a hostile client can write by hand.
fn raw_batch(attributes: i16, count: i32, last_offset_delta: i32, payload: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(61 + payload.len());
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset
    b.extend_from_slice(&((49 + payload.len()) as i32).to_be_bytes()); // batch length
    b.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // crc, below
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&last_offset_delta.to_be_bytes());
    b.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    b.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(payload);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

fn produce_request(name: &str, partitions: Vec<(i32, Bytes)>) -> ProduceRequest {
    ProduceRequest::default().with_acks(1).with_timeout_ms(10_000).with_topic_data(vec![TopicProduceData::default()
        .with_name(topic(name))
        .with_partition_data(
            partitions
                .into_iter()
                .map(|(index, records)| PartitionProduceData::default().with_index(index).with_records(Some(records)))
                .collect(),
        )])
}

/// Produces `records` to partition 0 of `name`; returns (error code, message, base offset).
fn produce(c: &mut TcpStream, name: &str, records: Bytes) -> (i16, String, i64) {
    let resp: ProduceResponse = call(c, ApiKey::Produce, 9, &produce_request(name, vec![(0, records)]));
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.error_message.as_ref().map(|m| m.to_string()).unwrap_or_default(), p.base_offset)
}

fn create_topic(c: &mut TcpStream, name: &str, partitions: i32, configs: &[(&str, &str)], validate_only: bool) -> i16 {
    let request =
        CreateTopicsRequest::default().with_timeout_ms(10_000).with_validate_only(validate_only).with_topics(vec![
            CreatableTopic::default()
                .with_name(topic(name))
                .with_num_partitions(partitions)
                .with_replication_factor(1)
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| CreatableTopicConfig::default().with_name(s(k)).with_value(Some(s(v))))
                        .collect(),
                ),
        ]);
    let resp: CreateTopicsResponse = call(c, ApiKey::CreateTopics, 5, &request);
    resp.topics[0].error_code
}

fn high_watermark(c: &mut TcpStream, name: &str) -> i64 {
    let resp: ListOffsetsResponse = call(
        c,
        ApiKey::ListOffsets,
        7,
        &ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic(name))
            .with_partitions(vec![ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1)])]),
    );
    resp.topics[0].partitions[0].offset
}

/// gzip of `len` zero bytes, written in chunks (the test never holds the inflated bytes).
fn gzip_zeros(len: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        encoder.write_all(&chunk[..n]).expect("gzip");
        left -= n;
    }
    encoder.finish().expect("gzip")
}

fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> WarrenProcess {
    WarrenProcess::spawn(dir, 1, free_ports(1), env).expect("start warren")
}

/// Batches and requests that used to abort the process or exhaust its memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_batches_and_requests_get_clear_errors_and_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = start(dir.path(), &[]);
    let addr = warren.kafka;
    let pid = warren.child.id();
    let http_addr = warren.http;
    let baseline = vm_hwm_kib(pid);
    let client = tokio::task::spawn_blocking(move || {
        let mut c = connect(addr);
        assert_eq!(create_topic(&mut c, "h", 1, &[], false), 0);
        let good = encode(&[record(0, Bytes::from_static(b"kept"), vec![])], Compression::None).freeze();
        assert_eq!(produce(&mut c, "h", good).0, 0);

        // 1. A 72-byte batch whose record says it has 2^31-1 headers: decoding it asked for
        //    38 GB. Produce now parses every record and refuses it.
        let mut payload = Vec::new();
        // attributes 0, timestamp delta 0, offset delta 0, key null (-1 = 0x01), value empty (0),
        // header count 2^31-1 (zigzag 0xfffffffe: fe ff ff ff 0f), then nothing.
        let record_bytes = [0u8, 0, 0, 0x01, 0x00, 0xfe, 0xff, 0xff, 0xff, 0x0f];
        payload.push((record_bytes.len() as u8) << 1);
        payload.extend_from_slice(&record_bytes);
        let (code, message, _) = produce(&mut c, "h", raw_batch(0, 1, 0, &payload));
        assert_eq!(code, ResponseError::InvalidRecord.code(), "{message}");
        assert!(message.contains("header"), "{message}");

        // 10. Compressed batches claiming 2^31-1 records moved the high watermark by 2^31.
        let three =
            encode(&(0..3).map(|i| record(i, Bytes::from_static(b"x"), vec![])).collect::<Vec<_>>(), Compression::Gzip);
        let lying = raw_batch(1, i32::MAX, i32::MAX - 1, &three[61..]);
        let (code, message, _) = produce(&mut c, "h", lying);
        assert_eq!(code, ResponseError::InvalidRecord.code(), "{message}");
        assert_eq!(high_watermark(&mut c, "h"), 1, "the high watermark did not move");

        // 5. A decompression bomb: 0.9 MB of gzip inflating to 900 MB.
        let bomb = raw_batch(1, 1, 0, &gzip_zeros(900 << 20));
        assert!(bomb.len() < 1_000_000, "{} bytes", bomb.len());
        let (code, message, _) = produce(&mut c, "h", bomb);
        assert_eq!(code, ResponseError::MessageTooLarge.code(), "{message}");
        assert!(message.contains("inflates"), "{message}");

        // 12. max.message.bytes is enforced: an 8 MB record, and a topic's own smaller limit.
        let big = encode(&[record(0, Bytes::from(vec![7u8; 8 << 20]), vec![])], Compression::None).freeze();
        assert_eq!(produce(&mut c, "h", big).0, ResponseError::MessageTooLarge.code());
        assert_eq!(create_topic(&mut c, "small", 1, &[("max.message.bytes", "1000")], false), 0);
        let two_k = encode(&[record(0, Bytes::from(vec![1u8; 2000]), vec![])], Compression::None).freeze();
        assert_eq!(produce(&mut c, "small", two_k).0, ResponseError::MessageTooLarge.code());
        let tiny = encode(&[record(0, Bytes::from_static(b"ok"), vec![])], Compression::None).freeze();
        assert_eq!(produce(&mut c, "small", tiny).0, 0);

        // 2. Clients may not write __consumer_offsets (a forged commit, or bytes the group loader
        //    cannot read).
        let forged = encode(&[record(0, Bytes::from_static(b"forged"), vec![])], Compression::None).freeze();
        let (code, message, _) = produce(&mut c, "__consumer_offsets", forged);
        assert_eq!(code, ResponseError::InvalidTopicException.code(), "{message}");

        // 3. CreateTopics / CreatePartitions with 2^31-1 partitions asked for 51 GB, even with
        //    validate_only.
        for validate_only in [true, false] {
            assert_eq!(
                create_topic(&mut c, "huge", i32::MAX, &[], validate_only),
                ResponseError::InvalidPartitions.code()
            );
        }
        let resp: CreatePartitionsResponse = call(
            &mut c,
            ApiKey::CreatePartitions,
            3,
            &CreatePartitionsRequest::default().with_timeout_ms(5_000).with_topics(vec![
                CreatePartitionsTopic::default().with_name(topic("h")).with_count(i32::MAX).with_assignments(None),
            ]),
        );
        assert_eq!(resp.results[0].error_code, ResponseError::InvalidPartitions.code());

        // 7. segment.bytes=1024 made a thousand files (and descriptors) per megabyte.
        assert_eq!(
            create_topic(&mut c, "tiny-segments", 1, &[("segment.bytes", "1024")], false),
            ResponseError::InvalidConfig.code()
        );

        // 6. Fetch amplification: max_bytes 0 meant unlimited, and one partition listed 300
        //    times was read 300 times. Put 0.9 MB in, ask for it 300 times.
        assert_eq!(create_topic(&mut c, "amp", 1, &[], false), 0);
        for i in 0..9 {
            let chunk = encode(&[record(i, Bytes::from(vec![b'a'; 100_000]), vec![])], Compression::None).freeze();
            assert_eq!(produce(&mut c, "amp", chunk).0, 0);
        }
        let partitions =
            vec![
                FetchPartition::default().with_partition(0).with_fetch_offset(0).with_partition_max_bytes(i32::MAX);
                300
            ];
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(0)
            .with_topics(vec![FetchTopic::default().with_topic(topic("amp")).with_partitions(partitions)]);
        c.write_all(&frame(ApiKey::Fetch, 11, 43, &request)).expect("write");
        let mut size = [0u8; 4];
        c.read_exact(&mut size).expect("size");
        let size = i32::from_be_bytes(size);
        let mut body = vec![0u8; size as usize];
        c.read_exact(&mut body).expect("body");
        assert!(size < 300_000, "one batch at most for max_bytes 0, {size} bytes");
        let mut body = Bytes::from(body);
        ResponseHeader::decode(&mut body, ApiKey::Fetch.response_header_version(11)).expect("header");
        let resp = FetchResponse::decode(&mut body, 11).expect("fetch response");
        assert_eq!(resp.responses[0].partitions.len(), 1, "each partition once");

        // 8. Metadata auto-creating 1,000 topics at once took 1.7 s and stalled other
        //    connections by 1.5 s; now 100 are created per request and others are not held up.
        let names: Vec<MetadataRequestTopic> =
            (0..1000).map(|i| MetadataRequestTopic::default().with_name(Some(topic(&format!("auto-{i}"))))).collect();
        let other = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let mut o = connect(addr);
            let started = Instant::now();
            let _: MetadataResponse =
                call(&mut o, ApiKey::Metadata, 9, &MetadataRequest::default().with_topics(Some(Vec::new())));
            started.elapsed()
        });
        let resp: MetadataResponse = call(
            &mut c,
            ApiKey::Metadata,
            9,
            &MetadataRequest::default().with_topics(Some(names)).with_allow_auto_topic_creation(true),
        );
        let created = resp.topics.iter().filter(|t| t.error_code == 0).count();
        let later = resp.topics.iter().filter(|t| t.error_code == ResponseError::LeaderNotAvailable.code()).count();
        assert_eq!((created, later), (100, 900));
        let waited = other.join().expect("other client");
        assert!(waited < Duration::from_secs(1), "an unrelated Metadata request waited {waited:?}");

        // 9. Idempotent-producer state: 3 requests of 20,000 batches, each from an invented
        //    producer id, added ~50 MB each and were never forgotten.
        for round in 0..3i64 {
            let mut batches = BytesMut::new();
            for n in 0..20_000i64 {
                let pid = 1_000_000 + round * 20_000 + n;
                let mut r = record(0, Bytes::from_static(b"p"), vec![]);
                r.producer_id = pid;
                r.producer_epoch = 0;
                r.sequence = 0;
                batches.extend_from_slice(&encode(&[r], Compression::None));
            }
            assert_eq!(produce(&mut c, "h", batches.freeze()).0, 0);
        }

        // The first record is still there, and the broker answers everyone.
        let mut again = connect(addr);
        assert!(high_watermark(&mut again, "h") >= 60_001);
        alive(addr);
    });
    client.await.expect("client");
    // ListOffsets by timestamp and the message browser decode the stored batches.
    let (status, _, page) =
        http(http_addr, "GET", "/topics/h/messages?partition=0&offset=0&limit=5", None, &[]).await.expect("browser");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("kept"), "the first record is readable");
    let peak = vm_hwm_kib(pid);
    assert!(peak < baseline + 200 * 1024, "peak RSS {peak} KiB (started at {baseline} KiB)");
    drop(warren);
}

/// Connections: a cap per address, idle connections closed, a slow sender holding only what it
/// sent, and a request naming too many partitions closing only its own connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limits_hold_and_slow_clients_hold_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("WARREN_BROKER__MAX_CONNECTIONS_PER_IP", "8"),
        ("WARREN_BROKER__CONNECTIONS_MAX_IDLE", "2s"),
        ("WARREN_BROKER__MAX_PARTITIONS_PER_REQUEST", "1000"),
        // The Connect worker's own client would hold one of the eight connections from 127.0.0.1.
        ("WARREN_CONNECT__ENABLED", "false"),
    ];
    let warren = start(dir.path(), &env);
    let addr = warren.kafka;
    let pid = warren.child.id();
    tokio::task::spawn_blocking(move || {
        let baseline = vm_hwm_kib(pid);
        // Eight connections are served; the ninth is closed at once; after one closes, there is
        // room again.
        let mut open: Vec<TcpStream> = (0..8).map(|_| connect(addr)).collect();
        for c in &mut open {
            let resp: ApiVersionsResponse = call(c, ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
            assert_eq!(resp.error_code, 0);
        }
        let mut ninth = connect(addr);
        assert!(closed_within(&mut ninth, Duration::from_secs(5)), "the ninth connection is refused");
        drop(open.pop());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut c = connect(addr);
            c.write_all(&frame(ApiKey::ApiVersions, 3, 1, &ApiVersionsRequest::default())).expect("write");
            let mut size = [0u8; 4];
            if c.read_exact(&mut size).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "a slot frees when a connection closes");
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(open);

        // An idle connection closes after connections_max_idle.
        let mut idle = connect(addr);
        assert!(closed_within(&mut idle, Duration::from_secs(15)), "idle connection closed");

        // A slow sender announces 50 MB and sends 1 KB: it holds a kilobyte, then is closed.
        let mut slow = connect(addr);
        slow.write_all(&(50i32 << 20).to_be_bytes()).expect("size");
        slow.write_all(&[0u8; 1024]).expect("some bytes");
        assert!(closed_within(&mut slow, Duration::from_secs(15)), "a frame that does not arrive is dropped");
        let peak = vm_hwm_kib(pid);
        assert!(peak < baseline + 30 * 1024, "the announced 50 MB was not allocated: {baseline} -> {peak} KiB");

        // 2,000 partitions in one Fetch, over max_partitions_per_request (1,000): that
        // connection closes, the others do not notice.
        let mut good = connect(addr);
        let mut greedy = connect(addr);
        let partitions: Vec<FetchPartition> =
            (0..2000).map(|p| FetchPartition::default().with_partition(p).with_partition_max_bytes(1024)).collect();
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_bytes(1024)
            .with_topics(vec![FetchTopic::default().with_topic(topic("any")).with_partitions(partitions)]);
        greedy.write_all(&frame(ApiKey::Fetch, 11, 1, &request)).expect("write");
        assert!(closed_within(&mut greedy, Duration::from_secs(10)), "too many partitions: connection closed");
        let resp: ApiVersionsResponse = call(&mut good, ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
        assert_eq!(resp.error_code, 0);
    })
    .await
    .expect("client");
    drop(warren);
}

/// A group coordinator's partition of `__consumer_offsets`, as Kafka computes it.
fn offsets_partition(group: &str) -> i32 {
    let hash = group.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c as i16)));
    (hash.unsigned_abs() % 50) as i32
}

fn commit(c: &mut TcpStream, group: &str, offset: i64) {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_topics(vec![OffsetCommitRequestTopic::default().with_name(topic("h")).with_partitions(vec![
            OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(offset),
        ])]);
    let resp: OffsetCommitResponse = call(c, ApiKey::OffsetCommit, 8, &request);
    assert_eq!(resp.topics[0].partitions[0].error_code, 0, "commit for {group}");
}

fn committed(c: &mut TcpStream, group: &str) -> i64 {
    let request = OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(Some(vec![
        OffsetFetchRequestTopic::default().with_name(topic("h")).with_partition_indexes(vec![0]),
    ]));
    let resp: OffsetFetchResponse = call(c, ApiKey::OffsetFetch, 6, &request);
    resp.topics[0].partitions[0].committed_offset
}

/// The next offset of a segment file, from its batch headers.
fn next_offset(log: &[u8]) -> i64 {
    let (mut pos, mut next) = (0usize, 0i64);
    while pos + 61 <= log.len() {
        let base = i64::from_be_bytes(log[pos..pos + 8].try_into().expect("8"));
        let len = i32::from_be_bytes(log[pos + 8..pos + 12].try_into().expect("4")) as usize;
        let delta = i32::from_be_bytes(log[pos + 23..pos + 27].try_into().expect("4"));
        next = base + i64::from(delta) + 1;
        pos += 12 + len;
    }
    next
}

/// A batch in `__consumer_offsets` that does not decode (written before client writes were
/// refused, or damaged) used to stop the group loader and lose every later commit of that
/// partition, good ones included. Now the loader skips it and keeps the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_loader_skips_an_undecodable_batch_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_ports(1);
    // Two groups on the same __consumer_offsets partition.
    let first = "loader-a";
    let second = (0..)
        .map(|i| format!("loader-b{i}"))
        .find(|g| offsets_partition(g) == offsets_partition(first))
        .expect("a group");
    let partition = offsets_partition(first);
    let warren = WarrenProcess::spawn(dir.path(), 1, port, &[]).expect("start");
    let addr = warren.kafka;
    {
        let mut c = connect(addr);
        assert_eq!(create_topic(&mut c, "h", 1, &[], false), 0);
        commit(&mut c, first, 11);
    }
    warren.terminate().expect("clean stop");
    // Append a gzip batch of garbage with a valid CRC where the next batch would go.
    let segment = dir.path().join(format!("broker-1/__consumer_offsets-{partition}/00000000000000000000.log"));
    let mut log = std::fs::read(&segment).expect("segment");
    let next = next_offset(&log);
    let mut garbage = raw_batch(1, 1, 0, &[0x1f, 0x8b, 8, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]).to_vec();
    garbage[0..8].copy_from_slice(&next.to_be_bytes());
    log.extend_from_slice(&garbage);
    std::fs::write(&segment, &log).expect("write segment");

    let warren = WarrenProcess::spawn(dir.path(), 1, port, &[]).expect("restart");
    {
        let mut c = connect(warren.kafka);
        assert_eq!(committed(&mut c, first), 11, "the commit before the bad batch survived");
        commit(&mut c, &second, 22);
    }
    warren.kill9().expect("kill -9");
    let warren = WarrenProcess::spawn(dir.path(), 1, port, &[]).expect("restart");
    let mut c = connect(warren.kafka);
    assert_eq!(committed(&mut c, first), 11);
    assert_eq!(committed(&mut c, &second), 22, "the commit after the bad batch survived too");
    drop(warren);
}

/// With the smallest segments allowed, a big produce rolls many segments but the process holds
/// one descriptor per partition, and a restart is ready at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_segments_cost_no_descriptors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_ports(1);
    let warren = WarrenProcess::spawn(dir.path(), 1, port, &[]).expect("start");
    let (addr, pid) = (warren.kafka, warren.child.id());
    tokio::task::spawn_blocking(move || {
        let mut c = connect(addr);
        assert_eq!(create_topic(&mut c, "rolls", 1, &[("segment.bytes", "65536")], false), 0);
        for i in 0..100 {
            let chunk = encode(&[record(i, Bytes::from(vec![b's'; 50_000]), vec![])], Compression::None).freeze();
            assert_eq!(produce(&mut c, "rolls", chunk).0, 0);
        }
    })
    .await
    .expect("client");
    let segments = std::fs::read_dir(dir.path().join("broker-1/rolls-0"))
        .expect("dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log")))
        .count();
    assert!(segments >= 50, "{segments} segments");
    let partition_dir = dir.path().canonicalize().expect("canonical").join("broker-1/rolls-0");
    let held = open_fds_under(pid, &partition_dir);
    assert!(held <= 1, "{held} descriptors held on {segments} segments");
    warren.kill9().expect("kill -9");
    let warren = WarrenProcess::spawn(dir.path(), 1, port, &[]).expect("restart");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _, _)) = http(warren.http, "GET", "/readyz", None, &[]).await {
            break;
        }
        assert!(Instant::now() < deadline, "ready after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut c = connect(warren.kafka);
    assert_eq!(high_watermark(&mut c, "rolls"), 100);
}
