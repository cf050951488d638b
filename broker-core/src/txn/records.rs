//! The records of `__transaction_state`, as Kafka's transaction coordinator writes them: key
//! `i16 version 0, string transactional_id`; value `i16 version 0` then TransactionLogValue v0
//! (`i64 producer_id, i16 producer_epoch, i32 timeout_ms, i8 status, nullable [string topic,
//! [i32]] partitions, i64 last_update_ms, i64 start_ms`). A null value is a tombstone. warren
//! writes and reads v0 (what Kafka writes without transaction.version 1); decoding never panics.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};

use super::TxnState;
use crate::group::records::{put_string, Reader, RecordError};

/// One transactional id's state as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnValue {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub last_update_ms: i64,
    pub start_ms: i64,
}

pub fn key(transactional_id: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + transactional_id.len());
    buf.put_i16(0);
    put_string(&mut buf, transactional_id);
    buf.freeze()
}

pub fn decode_key(bytes: &[u8]) -> Result<String, RecordError> {
    let mut r = Reader { buf: bytes };
    match r.i16("transaction key version")? {
        0 => r.string("transactional id"),
        version => Err(RecordError::UnknownVersion { what: "transaction key", version }),
    }
}

pub fn value(v: &TxnValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(0);
    buf.put_i64(v.producer_id);
    buf.put_i16(v.producer_epoch);
    buf.put_i32(v.timeout_ms);
    buf.put_i8(v.state.id());
    if v.state == TxnState::Empty {
        buf.put_i32(-1);
    } else {
        let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
        for (topic, partition) in &v.partitions {
            match topics.last_mut() {
                Some((t, ps)) if *t == topic.as_str() => ps.push(*partition),
                _ => topics.push((topic.as_str(), vec![*partition])),
            }
        }
        buf.put_i32(topics.len() as i32);
        for (topic, partitions) in topics {
            put_string(&mut buf, topic);
            buf.put_i32(partitions.len() as i32);
            for p in partitions {
                buf.put_i32(p);
            }
        }
    }
    buf.put_i64(v.last_update_ms);
    buf.put_i64(v.start_ms);
    buf.freeze()
}

pub fn decode_value(bytes: &[u8]) -> Result<TxnValue, RecordError> {
    let mut r = Reader { buf: bytes };
    let version = r.i16("transaction value version")?;
    if version != 0 {
        return Err(RecordError::UnknownVersion { what: "transaction value", version });
    }
    let producer_id = r.i64("producer id")?;
    let producer_epoch = r.i16("producer epoch")?;
    let timeout_ms = r.i32("transaction timeout")?;
    let status = r.i8("transaction status")?;
    let state = TxnState::from_id(status)
        .ok_or(RecordError::UnknownVersion { what: "transaction status", version: i16::from(status) })?;
    let mut partitions = BTreeSet::new();
    let topics = r.i32("partition topics")?;
    for _ in 0..topics.max(0) {
        let topic = r.string("partition topic")?;
        let count = r.i32("partition count")?;
        for _ in 0..count.max(0) {
            partitions.insert((topic.clone(), r.i32("partition id")?));
        }
    }
    if state == TxnState::Empty {
        partitions.clear();
    }
    let last_update_ms = r.i64("last update timestamp")?;
    let start_ms = r.i64("start timestamp")?;
    Ok(TxnValue { producer_id, producer_epoch, timeout_ms, state, partitions, last_update_ms, start_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_records_round_trip_in_kafkas_layout() {
        assert_eq!(&key("tx")[..], &[0, 0, 0, 2, b't', b'x']);
        assert_eq!(decode_key(&key("payments-1")).expect("key"), "payments-1");
        let v = TxnValue {
            producer_id: 7,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: BTreeSet::from([("a".to_string(), 1), ("a".to_string(), 0), ("b".to_string(), 2)]),
            last_update_ms: 1_000,
            start_ms: 900,
        };
        let bytes = value(&v);
        // version, pid, epoch, timeout, status 1, two topics: "a" [0, 1], "b" [2], timestamps.
        assert_eq!(&bytes[..17], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 3, 0, 0, 0xea, 0x60, 1]);
        assert_eq!(decode_value(&bytes).expect("value"), v);
        let empty = TxnValue { state: TxnState::Empty, partitions: BTreeSet::new(), start_ms: -1, ..v.clone() };
        let bytes = value(&empty);
        assert_eq!(&bytes[17..21], &[0xff, 0xff, 0xff, 0xff], "Empty writes null partitions");
        assert_eq!(decode_value(&bytes).expect("value"), empty);
    }

    #[test]
    fn malformed_state_records_are_errors() {
        let good = value(&TxnValue {
            producer_id: 1,
            producer_epoch: 0,
            timeout_ms: 1,
            state: TxnState::CompleteCommit,
            partitions: BTreeSet::new(),
            last_update_ms: 0,
            start_ms: 0,
        });
        for cut in 0..good.len() {
            assert!(decode_value(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_status = good.to_vec();
        bad_status[16] = 42;
        assert!(decode_value(&bad_status).is_err());
        assert!(decode_value(&[0, 1]).is_err(), "v1 is not read");
        assert!(decode_key(&[0, 0, 0, 9, b'x']).is_err());
    }
}
