//! Wire-level checks with hand-built requests (the `kafka-protocol` codec as a client): what
//! Burrow's sarama sends (ListOffsets v0), acks=0, and an idempotent producer's retried batch.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use warren_tests::{Options, Warren};

pub fn frame<T: Encodable>(api: ApiKey, version: i16, correlation_id: i32, body: &T) -> Vec<u8> {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("wire-test")));
    let mut buf = BytesMut::new();
    header.encode(&mut buf, api.request_header_version(version)).expect("header");
    body.encode(&mut buf, version).expect("body");
    let mut out = (buf.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&buf);
    out
}

pub fn read_frame(s: &mut TcpStream) -> Bytes {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).expect("size");
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut body).expect("body");
    Bytes::from(body)
}

/// Sends one request and decodes its response (the `kafka-protocol` codec as a client).
pub fn call<Req: Encodable, Resp: Decodable>(s: &mut TcpStream, api: ApiKey, version: i16, request: &Req) -> Resp {
    s.write_all(&frame(api, version, 42, request)).expect("write");
    let mut f = read_frame(s);
    let header = ResponseHeader::decode(&mut f, api.response_header_version(version)).expect("response header");
    assert_eq!(header.correlation_id, 42);
    Resp::decode(&mut f, version).expect("response body")
}

/// A batch of `n` records from idempotent producer `pid`, starting at sequence `seq`.
pub fn batch(pid: i64, seq: i32, n: i32) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: pid,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: seq + i,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(format!("v{}", seq + i))),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None })
        .expect("encode");
    buf.freeze()
}

pub fn produce(topic: &str, acks: i16, records: Bytes) -> ProduceRequest {
    ProduceRequest::default().with_acks(acks).with_timeout_ms(5_000).with_topic_data(vec![TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_string(topic.into())))
        .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(Some(records))])])
}

fn produce_response(s: &mut TcpStream, version: i16) -> (i32, i16, i64) {
    let mut f = read_frame(s);
    let header = ResponseHeader::decode(&mut f, ApiKey::Produce.response_header_version(version)).expect("header");
    let resp = ProduceResponse::decode(&mut f, version).expect("body");
    let p = &resp.responses[0].partition_responses[0];
    (header.correlation_id, p.error_code, p.base_offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_idempotent_retries_and_list_offsets_v0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1)).await.expect("start");
    warren
        .cluster
        .create_topic(&broker_core::NewTopic { name: "wire".into(), ..Default::default() }, false)
        .expect("create");
    let addr = warren.kafka[0];
    let cluster = warren.cluster.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let v = 9;
        // acks=0: no response at all; the next request's response is the first to arrive.
        s.write_all(&frame(ApiKey::Produce, v, 1, &produce("wire", 0, batch(-1, -1, 3)))).expect("write");
        s.write_all(&frame(ApiKey::Produce, v, 2, &produce("wire", 1, batch(-1, -1, 2)))).expect("write");
        assert_eq!(produce_response(&mut s, v), (2, 0, 3));

        // An idempotent batch, then the same batch again (a retry): acknowledged with the
        // original offset, appended once.
        let pid = cluster.next_producer_id();
        s.write_all(&frame(ApiKey::Produce, v, 3, &produce("wire", -1, batch(pid, 0, 4)))).expect("write");
        assert_eq!(produce_response(&mut s, v), (3, 0, 5));
        s.write_all(&frame(ApiKey::Produce, v, 4, &produce("wire", -1, batch(pid, 0, 4)))).expect("write");
        assert_eq!(produce_response(&mut s, v), (4, 0, 5));
        // A gap in sequences is refused (OUT_OF_ORDER_SEQUENCE_NUMBER), nothing appended.
        s.write_all(&frame(ApiKey::Produce, v, 5, &produce("wire", -1, batch(pid, 10, 1)))).expect("write");
        assert_eq!(produce_response(&mut s, v).1, 45);
        s.write_all(&frame(ApiKey::Produce, v, 6, &produce("wire", -1, batch(pid, 4, 1)))).expect("write");
        assert_eq!(produce_response(&mut s, v), (6, 0, 9));
        let replica = cluster.replica(1, "wire", 0).expect("replica");
        assert_eq!(replica.log_end_offset(), 10);

        // A corrupt batch (one flipped byte under the CRC) gets CORRUPT_MESSAGE, nothing appended.
        let mut bad = batch(-1, -1, 1).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0x55;
        s.write_all(&frame(ApiKey::Produce, v, 7, &produce("wire", 1, Bytes::from(bad)))).expect("write");
        assert_eq!(produce_response(&mut s, v).1, 2);
        assert_eq!(replica.log_end_offset(), 10);
        // A batch whose CRC holds but whose header claims 2^31-1 records and offsets gets
        // INVALID_RECORD, nothing appended, and the broker carries on.
        let mut lie = batch(-1, -1, 1).to_vec();
        lie[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes()); // last offset delta
        lie[57..61].copy_from_slice(&i32::MAX.to_be_bytes()); // record count
        let crc = crc32c::crc32c(&lie[21..]);
        lie[17..21].copy_from_slice(&crc.to_be_bytes());
        s.write_all(&frame(ApiKey::Produce, v, 7, &produce("wire", 1, Bytes::from(lie)))).expect("write");
        assert_eq!(produce_response(&mut s, v).1, 87);
        assert_eq!(replica.log_end_offset(), 10);

        // ListOffsets v0 exactly as sarama writes it: latest (-1) and earliest (-2).
        for (cid, ts, want) in [(8i32, -1i64, 10i64), (9, -2, 0)] {
            let mut body = Vec::new();
            body.extend_from_slice(&2i16.to_be_bytes()); // api key
            body.extend_from_slice(&0i16.to_be_bytes()); // version
            body.extend_from_slice(&cid.to_be_bytes());
            body.extend_from_slice(&6i16.to_be_bytes());
            body.extend_from_slice(b"sarama");
            body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
            body.extend_from_slice(&1i32.to_be_bytes());
            body.extend_from_slice(&4i16.to_be_bytes());
            body.extend_from_slice(b"wire");
            body.extend_from_slice(&1i32.to_be_bytes());
            body.extend_from_slice(&0i32.to_be_bytes()); // partition
            body.extend_from_slice(&ts.to_be_bytes());
            body.extend_from_slice(&1i32.to_be_bytes()); // max offsets
            let mut req = (body.len() as i32).to_be_bytes().to_vec();
            req.extend(body);
            s.write_all(&req).expect("write");
            let f = read_frame(&mut s);
            // correlation id, [topic "wire", [partition 0, error 0, [offset]]]
            assert_eq!(&f[0..4], &cid.to_be_bytes());
            assert_eq!(&f[8..10], &4i16.to_be_bytes());
            assert_eq!(&f[10..14], b"wire");
            assert_eq!(&f[18..22], &0i32.to_be_bytes());
            assert_eq!(&f[22..24], &0i16.to_be_bytes());
            assert_eq!(&f[24..28], &1i32.to_be_bytes());
            assert_eq!(i64::from_be_bytes(f[28..36].try_into().expect("8 bytes")), want);
        }
    })
    .await
    .expect("client");
    warren.stop().await.expect("stop");
}
