//! What a stream job does to one record, without I/O: the filter, the re-key, the number an
//! aggregation reads, the shapes of result keys and values, Kafka's partitioner, and the bytes
//! of the window store's changelog. Pure functions, tested here.
//!
//! Values are JSON. A value the job must look into (filter, re-key, aggregated field) that is
//! not JSON, or lacks what is asked for, is skipped and counted, as Kafka Streams' default
//! `LogAndContinue` handler skips what it cannot deserialize.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{json, Value};

use super::spec::{Aggregate, Filter, FilterTest, KeyFormat};
use super::window::{Agg, Window, Windows};

/// Kafka's `Utils.murmur2` partitioner, as the Java producer places a keyed record.
pub use crate::tools::producer::key_partition as partition_for;

/// The record's value as JSON, if it is JSON.
pub fn parse(value: Option<&Bytes>) -> Option<Value> {
    value.and_then(|v| serde_json::from_slice(v).ok())
}

/// Whether the filter lets the record through (`None`: the value is not JSON).
pub fn passes(filter: &Filter, value: Option<&Value>) -> Option<bool> {
    let found = value?.pointer(&filter.pointer);
    Some(match &filter.test {
        FilterTest::Equals(want) => found == Some(want),
        FilterTest::NotEquals(want) => found != Some(want),
        FilterTest::Exists(want) => found.is_some() == *want,
    })
}

/// The key bytes a JSON value becomes: a string's own bytes, anything else its JSON text.
pub fn key_bytes(value: &Value) -> Bytes {
    match value {
        Value::String(s) => Bytes::copy_from_slice(s.as_bytes()),
        other => Bytes::from(other.to_string()),
    }
}

/// The new key from `pointer` into the value; `None` when the value has nothing there (Kafka
/// Streams drops records whose grouping key is null).
pub fn rekey(pointer: &str, value: Option<&Value>) -> Option<Bytes> {
    value?.pointer(pointer).filter(|v| !v.is_null()).map(key_bytes)
}

/// The number an aggregation adds: 1 for count, else the JSON number at `field`.
pub fn number(aggregate: Aggregate, field: Option<&str>, value: Option<&Value>) -> Option<f64> {
    match (aggregate, field) {
        (Aggregate::Count, None) => Some(1.0),
        (_, Some(field)) => value?.pointer(field)?.as_f64(),
        (_, None) => None,
    }
}

fn number_json(x: f64) -> Value {
    // Integral results print as integers ({"sum": 12}, not 12.0) while they are exact.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// A window result's value: `{"count": 3}`, `{"sum": 12.5}`, `{"avg": 4.2, "count": 3}`.
pub fn result_value(aggregate: Aggregate, agg: &Agg) -> Bytes {
    let value = match aggregate {
        Aggregate::Count => json!({ "count": agg.count }),
        Aggregate::Sum => json!({ "sum": number_json(agg.sum) }),
        Aggregate::Min => json!({ "min": number_json(agg.min) }),
        Aggregate::Max => json!({ "max": number_json(agg.max) }),
        Aggregate::Avg => {
            let avg = if agg.count == 0 { 0.0 } else { agg.sum / agg.count as f64 };
            json!({ "avg": number_json(avg), "count": agg.count })
        }
    };
    Bytes::from(value.to_string())
}

/// A window result's key: JSON `{"key", "start", "end"}` or Kafka Streams' windowed bytes.
pub fn result_key(format: KeyFormat, windows: Windows, key: &[u8], window: Window) -> Bytes {
    match format {
        KeyFormat::Json => {
            let key = String::from_utf8_lossy(key);
            Bytes::from(json!({ "key": key, "start": window.start, "end": window.end }).to_string())
        }
        KeyFormat::Windowed => {
            let mut out = BytesMut::with_capacity(key.len() + 16);
            out.put_slice(key);
            if let Windows::Session { .. } = windows {
                // SessionWindowedSerializer: key, end, start.
                out.put_i64(window.end);
            }
            out.put_i64(window.start);
            out.freeze()
        }
    }
}

/// A value as it appears inside a join result: its JSON, or its text when it is not JSON.
pub fn join_side(value: Option<&Bytes>) -> Value {
    match value {
        None => Value::Null,
        Some(bytes) => {
            serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
        }
    }
}

/// A join result: `{"left": <stream value>, "right": <table value or null>}`.
pub fn join_value(left: Option<&Bytes>, right: Option<&Bytes>) -> Bytes {
    Bytes::from(json!({ "left": join_side(left), "right": join_side(right) }).to_string())
}

/// One entry of the window store's changelog.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StateKey {
    Window {
        key: Bytes,
        window: Window,
    },
    /// Sliding windows' per-timestamp aggregate.
    Point {
        key: Bytes,
        timestamp: i64,
    },
    /// The last offset of source partition (`topic`: its index in `source`, `partition`) whose
    /// re-keyed record the store has counted: a replay of the re-keying after a crash writes
    /// duplicates into the repartition topic, and the store must not count them twice.
    Source {
        topic: u16,
        partition: i32,
    },
}

const WINDOW_TAG: u8 = b'W';
const POINT_TAG: u8 = b'P';
const SOURCE_TAG: u8 = b'S';

/// The header a re-keyed record carries: where it came from.
pub const SOURCE_HEADER: &str = "warren.source";

/// A [`SOURCE_HEADER`] value: source topic index, partition, offset.
pub fn source_header(topic: u16, partition: i32, offset: i64) -> Bytes {
    let mut out = BytesMut::with_capacity(14);
    out.put_u16(topic);
    out.put_i32(partition);
    out.put_i64(offset);
    out.freeze()
}

/// The source of a re-keyed record, from its [`SOURCE_HEADER`].
pub fn source_of(headers: &[(String, Option<Bytes>)]) -> Option<((u16, i32), i64)> {
    let (_, value) = headers.iter().find(|(k, _)| k == SOURCE_HEADER)?;
    let v = value.as_deref().filter(|v| v.len() == 14)?;
    let topic = u16::from_be_bytes([v[0], v[1]]);
    let partition = i32::from_be_bytes(v[2..6].try_into().ok()?);
    let offset = i64::from_be_bytes(v[6..14].try_into().ok()?);
    Some(((topic, partition), offset))
}
const AGG_BYTES: usize = 40;

impl StateKey {
    /// Tag, key length (u32), key, then start and end (or the point's timestamp), big-endian.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        match self {
            StateKey::Window { key, window } => {
                out.put_u8(WINDOW_TAG);
                out.put_u32(key.len() as u32);
                out.put_slice(key);
                out.put_i64(window.start);
                out.put_i64(window.end);
            }
            StateKey::Point { key, timestamp } => {
                out.put_u8(POINT_TAG);
                out.put_u32(key.len() as u32);
                out.put_slice(key);
                out.put_i64(*timestamp);
            }
            StateKey::Source { topic, partition } => {
                out.put_u8(SOURCE_TAG);
                out.put_u16(*topic);
                out.put_i32(*partition);
            }
        }
        out.freeze()
    }

    pub fn decode(bytes: &[u8]) -> Option<StateKey> {
        let (&tag, rest) = bytes.split_first()?;
        if tag == SOURCE_TAG {
            let rest: &[u8; 6] = rest.try_into().ok()?;
            let topic = u16::from_be_bytes([rest[0], rest[1]]);
            let partition = i32::from_be_bytes([rest[2], rest[3], rest[4], rest[5]]);
            return Some(StateKey::Source { topic, partition });
        }
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let key = Bytes::copy_from_slice(rest.get(4..4usize.checked_add(len)?)?);
        let tail = &rest[4 + len..];
        let int = |i: usize| -> Option<i64> { Some(i64::from_be_bytes(tail.get(i * 8..i * 8 + 8)?.try_into().ok()?)) };
        match (tag, tail.len()) {
            (WINDOW_TAG, 16) => Some(StateKey::Window { key, window: Window { start: int(0)?, end: int(1)? } }),
            (POINT_TAG, 8) => Some(StateKey::Point { key, timestamp: int(0)? }),
            _ => None,
        }
    }
}

/// An aggregate's changelog value: count, sum, min, max, timestamp.
pub fn encode_agg(agg: &Agg) -> Bytes {
    let mut out = BytesMut::with_capacity(AGG_BYTES);
    out.put_u64(agg.count);
    out.put_f64(agg.sum);
    out.put_f64(agg.min);
    out.put_f64(agg.max);
    out.put_i64(agg.timestamp);
    out.freeze()
}

pub fn decode_agg(bytes: &[u8]) -> Option<Agg> {
    if bytes.len() != AGG_BYTES {
        return None;
    }
    let word = |i: usize| -> [u8; 8] { bytes[i * 8..i * 8 + 8].try_into().unwrap_or_default() };
    Some(Agg {
        count: u64::from_be_bytes(word(0)),
        sum: f64::from_be_bytes(word(1)),
        min: f64::from_be_bytes(word(2)),
        max: f64::from_be_bytes(word(3)),
        timestamp: i64::from_be_bytes(word(4)),
    })
}

/// What a job commits beside each input offset (Kafka Streams keeps the partition time there
/// too): the task's stream time, and the end of its changelog at that commit, up to which an
/// at-least-once restart restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitMeta {
    pub stream_time: Option<i64>,
    pub changelog_end: Option<i64>,
}

impl CommitMeta {
    pub fn encode(&self) -> String {
        json!({ "stream_time": self.stream_time, "changelog_end": self.changelog_end }).to_string()
    }

    /// Metadata another client wrote decodes as nothing known.
    pub fn decode(text: &str) -> CommitMeta {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        CommitMeta {
            stream_time: value.get("stream_time").and_then(Value::as_i64),
            changelog_end: value.get("changelog_end").and_then(Value::as_i64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_json_pointers() {
        let click = json!({"kind": "click", "user": "u1", "n": 3});
        let check = |test: FilterTest, value: Option<&Value>, want: Option<bool>| {
            let filter = Filter { pointer: "/kind".into(), test: test.clone() };
            assert_eq!(passes(&filter, value), want, "{test:?} {value:?}");
        };
        check(FilterTest::Equals(json!("click")), Some(&click), Some(true));
        check(FilterTest::Equals(json!("view")), Some(&click), Some(false));
        check(FilterTest::NotEquals(json!("view")), Some(&click), Some(true));
        check(FilterTest::Exists(true), Some(&click), Some(true));
        check(FilterTest::Exists(false), Some(&json!({"other": 1})), Some(true));
        check(FilterTest::Equals(json!("click")), None, None);
    }

    #[test]
    fn keys_and_numbers_come_from_the_value() {
        let v = json!({"user": "u1", "id": 42, "amount": 2.5, "none": null});
        assert_eq!(rekey("/user", Some(&v)), Some(Bytes::from_static(b"u1")));
        assert_eq!(rekey("/id", Some(&v)), Some(Bytes::from_static(b"42")));
        assert_eq!(rekey("/none", Some(&v)), None);
        assert_eq!(rekey("/missing", Some(&v)), None);
        assert_eq!(number(Aggregate::Count, None, None), Some(1.0));
        assert_eq!(number(Aggregate::Sum, Some("/amount"), Some(&v)), Some(2.5));
        assert_eq!(number(Aggregate::Max, Some("/user"), Some(&v)), None);
    }

    #[test]
    fn results_have_kafka_streams_shapes() {
        let agg = Agg { count: 4, sum: 10.0, min: 1.0, max: 4.5, timestamp: 9 };
        assert_eq!(result_value(Aggregate::Count, &agg), Bytes::from_static(br#"{"count":4}"#));
        assert_eq!(result_value(Aggregate::Sum, &agg), Bytes::from_static(br#"{"sum":10}"#));
        assert_eq!(result_value(Aggregate::Max, &agg), Bytes::from_static(br#"{"max":4.5}"#));
        assert_eq!(result_value(Aggregate::Avg, &agg), Bytes::from_static(br#"{"avg":2.5,"count":4}"#));
        let w = Window { start: 10_000, end: 20_000 };
        let tumbling = Windows::Time { size: 10_000, advance: 10_000, grace: 0 };
        assert_eq!(
            result_key(KeyFormat::Json, tumbling, b"u1", w),
            Bytes::from_static(br#"{"end":20000,"key":"u1","start":10000}"#)
        );
        let windowed = result_key(KeyFormat::Windowed, tumbling, b"u1", w);
        assert_eq!(&windowed[..], &[b'u', b'1', 0, 0, 0, 0, 0, 0, 0x27, 0x10]);
        let session = result_key(KeyFormat::Windowed, Windows::Session { gap: 1, grace: 0 }, b"k", w);
        assert_eq!(&session[..], &[b'k', 0, 0, 0, 0, 0, 0, 0x4e, 0x20, 0, 0, 0, 0, 0, 0, 0x27, 0x10]);
        assert_eq!(
            join_value(Some(&Bytes::from_static(br#"{"id":1}"#)), None),
            Bytes::from_static(br#"{"left":{"id":1},"right":null}"#)
        );
        assert_eq!(
            join_value(Some(&Bytes::from_static(b"plain")), None),
            Bytes::from_static(br#"{"left":"plain","right":null}"#)
        );
    }

    #[test]
    fn changelog_entries_round_trip_and_reject_garbage() {
        for entry in [
            StateKey::Window { key: Bytes::from_static(b"user-1"), window: Window { start: -5, end: i64::MAX } },
            StateKey::Point { key: Bytes::new(), timestamp: 77 },
            StateKey::Source { topic: 2, partition: 5 },
        ] {
            assert_eq!(StateKey::decode(&entry.encode()), Some(entry));
        }
        for garbage in [&b""[..], b"W", b"W\xff\xff\xff\xffabc", b"X\0\0\0\0", b"P\0\0\0\x01k\0\0", b"S\0\0\0"] {
            assert_eq!(StateKey::decode(garbage), None, "{garbage:?}");
        }
        // Any bytes at all: an answer or None, never a panic (a client can write anything into
        // a changelog topic).
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for len in 0..2_000usize {
            let bytes: Vec<u8> = (0..len % 64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    [b'W', b'P', b'S', 0, 0xff][(x % 5) as usize].wrapping_add((x >> 8) as u8 % 2)
                })
                .collect();
            let _ = StateKey::decode(&bytes);
            let _ = decode_agg(&bytes);
            let _ = source_of(&[(SOURCE_HEADER.to_string(), Some(Bytes::from(bytes)))]);
        }
        assert_eq!(source_of(&[(SOURCE_HEADER.into(), Some(source_header(1, 2, 3)))]), Some(((1, 2), 3)));
        assert_eq!(source_of(&[(SOURCE_HEADER.into(), Some(Bytes::from_static(b"short")))]), None);
        let agg = Agg { count: 3, sum: -1.5, min: -2.0, max: 0.5, timestamp: 123 };
        assert_eq!(decode_agg(&encode_agg(&agg)), Some(agg));
        assert_eq!(decode_agg(b"short"), None);
        let meta = CommitMeta { stream_time: Some(5), changelog_end: Some(9) };
        assert_eq!(CommitMeta::decode(&meta.encode()), meta);
        assert_eq!(CommitMeta::decode("written by someone else"), CommitMeta::default());
    }
}
