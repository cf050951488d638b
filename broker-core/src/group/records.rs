//! The records of `__consumer_offsets`, byte for byte as Kafka's group coordinator writes them
//! (`../shared/docs/kafka-protocol.md` §9), so any reader of the topic (kcat, Burrow) decodes them.
//!
//! Keys start with an `i16` that is the record type: 0 and 1 are offset commits, 2 is group
//! metadata. warren writes OffsetCommitKey v1 + OffsetCommitValue v3 and GroupMetadataKey v2 +
//! GroupMetadataValue v3, and reads every non-flexible version (0 to 3) back. A null value is a
//! tombstone. Decoding never panics: malformed bytes are an `Err`.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record ends early: {0}")]
    Truncated(&'static str),
    #[error("unknown {what} version {version}")]
    UnknownVersion { what: &'static str, version: i16 },
    #[error("string is not UTF-8: {0}")]
    Utf8(&'static str),
    #[error("{0} is null where a value is required")]
    Null(&'static str),
}

/// The key of a `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordKey {
    Offset { group: String, topic: String, partition: i32 },
    Group { group: String },
}

/// A committed offset as OffsetCommitValue carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    /// -1 when the client sent none.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Only in v1 values, which Kafka wrote for commits with an explicit retention.
    pub expire_timestamp_ms: Option<i64>,
}

/// One member as GroupMetadataValue carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// A group's state as GroupMetadataValue carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValue {
    pub protocol_type: String,
    pub generation_id: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp_ms: i64,
    pub members: Vec<MemberValue>,
}

pub fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut buf = BytesMut::with_capacity(2 + 2 + group.len() + 2 + topic.len() + 4);
    buf.put_i16(1);
    put_string(&mut buf, group);
    put_string(&mut buf, topic);
    buf.put_i32(partition);
    buf.freeze()
}

pub fn group_key(group: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + group.len());
    buf.put_i16(2);
    put_string(&mut buf, group);
    buf.freeze()
}

/// OffsetCommitValue v3 (v1 when the value carries an expire timestamp, as Kafka does).
pub fn offset_value(value: &OffsetValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(2 + 8 + 4 + 2 + value.metadata.len() + 16);
    match value.expire_timestamp_ms {
        None => {
            buf.put_i16(3);
            buf.put_i64(value.offset);
            buf.put_i32(value.leader_epoch);
            put_string(&mut buf, &value.metadata);
            buf.put_i64(value.commit_timestamp_ms);
        }
        Some(expire) => {
            buf.put_i16(1);
            buf.put_i64(value.offset);
            put_string(&mut buf, &value.metadata);
            buf.put_i64(value.commit_timestamp_ms);
            buf.put_i64(expire);
        }
    }
    buf.freeze()
}

/// GroupMetadataValue v3.
pub fn group_value(value: &GroupValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(128);
    buf.put_i16(3);
    put_string(&mut buf, &value.protocol_type);
    buf.put_i32(value.generation_id);
    put_nullable_string(&mut buf, value.protocol.as_deref());
    put_nullable_string(&mut buf, value.leader.as_deref());
    buf.put_i64(value.current_state_timestamp_ms);
    buf.put_i32(value.members.len() as i32);
    for m in &value.members {
        put_string(&mut buf, &m.member_id);
        put_nullable_string(&mut buf, m.group_instance_id.as_deref());
        put_string(&mut buf, &m.client_id);
        put_string(&mut buf, &m.client_host);
        buf.put_i32(m.rebalance_timeout_ms);
        buf.put_i32(m.session_timeout_ms);
        put_bytes(&mut buf, &m.subscription);
        put_bytes(&mut buf, &m.assignment);
    }
    buf.freeze()
}

pub fn decode_key(bytes: &[u8]) -> Result<RecordKey, RecordError> {
    let mut r = Reader { buf: bytes };
    match r.i16("key version")? {
        0 | 1 => Ok(RecordKey::Offset {
            group: r.string("group")?,
            topic: r.string("topic")?,
            partition: r.i32("partition")?,
        }),
        2 => Ok(RecordKey::Group { group: r.string("group")? }),
        version => Err(RecordError::UnknownVersion { what: "key", version }),
    }
}

pub fn decode_offset_value(bytes: &[u8]) -> Result<OffsetValue, RecordError> {
    let mut r = Reader { buf: bytes };
    let version = r.i16("offset value version")?;
    let offset = r.i64("offset")?;
    let leader_epoch = if version == 3 { r.i32("leader epoch")? } else { -1 };
    let metadata = r.string("metadata")?;
    let commit_timestamp_ms = r.i64("commit timestamp")?;
    let expire_timestamp_ms = match version {
        0 | 2 | 3 => None,
        1 => Some(r.i64("expire timestamp")?),
        version => return Err(RecordError::UnknownVersion { what: "offset value", version }),
    };
    Ok(OffsetValue { offset, leader_epoch, metadata, commit_timestamp_ms, expire_timestamp_ms })
}

pub fn decode_group_value(bytes: &[u8]) -> Result<GroupValue, RecordError> {
    let mut r = Reader { buf: bytes };
    let version = r.i16("group value version")?;
    if !(0..=3).contains(&version) {
        return Err(RecordError::UnknownVersion { what: "group value", version });
    }
    let protocol_type = r.string("protocol type")?;
    let generation_id = r.i32("generation")?;
    let protocol = r.nullable_string("protocol")?;
    let leader = r.nullable_string("leader")?;
    let current_state_timestamp_ms = if version >= 2 { r.i64("state timestamp")? } else { -1 };
    let count = r.i32("member count")?;
    let mut members = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(r.buf.len()));
    for _ in 0..count.max(0) {
        let member_id = r.string("member id")?;
        let group_instance_id = if version >= 3 { r.nullable_string("group instance id")? } else { None };
        let client_id = r.string("client id")?;
        let client_host = r.string("client host")?;
        // v0 had one timeout for both.
        let rebalance_timeout_ms = if version >= 1 { r.i32("rebalance timeout")? } else { -1 };
        let session_timeout_ms = r.i32("session timeout")?;
        let subscription = r.bytes("subscription")?;
        let assignment = r.bytes("assignment")?;
        members.push(MemberValue {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms: if rebalance_timeout_ms < 0 { session_timeout_ms } else { rebalance_timeout_ms },
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Ok(GroupValue { protocol_type, generation_id, protocol, leader, current_state_timestamp_ms, members })
}

/// Java's `String.hashCode` over UTF-16 code units, with wrapping arithmetic.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The `__consumer_offsets` partition of a group: `abs(hashCode) % partitions`, with Kafka's
/// `Utils.abs` mapping `i32::MIN` to 0.
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let h = java_string_hash(group);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions
}

/// The topics and partitions in a consumer-protocol assignment (`i16 version, [topic, [i32]],
/// bytes userData`); empty when the bytes are not one (another protocol type).
pub fn assignment_partitions(bytes: &[u8]) -> Vec<(String, Vec<i32>)> {
    let mut r = Reader { buf: bytes };
    let parse = |r: &mut Reader| -> Result<Vec<(String, Vec<i32>)>, RecordError> {
        r.i16("assignment version")?;
        let topics = r.i32("topic count")?;
        let mut out = Vec::new();
        for _ in 0..topics.max(0) {
            let topic = r.string("topic")?;
            let n = r.i32("partition count")?;
            let mut partitions = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(r.buf.len() / 4));
            for _ in 0..n.max(0) {
                partitions.push(r.i32("partition")?);
            }
            out.push((topic, partitions));
        }
        Ok(out)
    };
    parse(&mut r).unwrap_or_default()
}

pub(crate) fn put_string(buf: &mut BytesMut, s: &str) {
    let len = s.len().min(i16::MAX as usize);
    buf.put_i16(len as i16);
    buf.put_slice(&s.as_bytes()[..len]);
}

fn put_nullable_string(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(buf, s),
        None => buf.put_i16(-1),
    }
}

pub(crate) fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(b.len() as i32);
    buf.put_slice(b);
}

/// A bounds-checked big-endian reader.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
}

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn i8(&mut self, what: &'static str) -> Result<i8, RecordError> {
        Ok(self.take(1, what)?[0] as i8)
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, RecordError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, RecordError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, RecordError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub(crate) fn nullable_string(&mut self, what: &'static str) -> Result<Option<String>, RecordError> {
        let len = self.i16(what)?;
        if len < 0 {
            return Ok(None);
        }
        let b = self.take(len as usize, what)?;
        String::from_utf8(b.to_vec()).map(Some).map_err(|_| RecordError::Utf8(what))
    }

    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, RecordError> {
        self.nullable_string(what)?.ok_or(RecordError::Null(what))
    }

    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<Bytes, RecordError> {
        let len = self.i32(what)?;
        if len < 0 {
            return Ok(Bytes::new());
        }
        Ok(Bytes::copy_from_slice(self.take(len as usize, what)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_and_partition_match_kafka() {
        // Values computed with Java's "...".hashCode().
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("console-consumer-12345"), 158_455_506);
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        assert_eq!(partition_for("console-consumer-12345", 50), 6);
        assert_eq!(java_string_hash("orders-consumer"), -1_204_742_690);
        assert_eq!(partition_for("orders-consumer", 50), 40);
        // Outside the BMP: Java hashes the two UTF-16 surrogates.
        assert_eq!(java_string_hash("\u{1F600}x"), 54_959_989);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE; Kafka's Utils.abs maps it to 0.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
    }

    #[test]
    fn offset_commit_bytes_are_kafkas() {
        let key = offset_key("g", "t", 3);
        assert_eq!(&key[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
        let value = OffsetValue {
            offset: 42,
            leader_epoch: 5,
            metadata: "m".into(),
            commit_timestamp_ms: 1000,
            expire_timestamp_ms: None,
        };
        let bytes = offset_value(&value);
        let mut want = vec![0, 3];
        want.extend(42i64.to_be_bytes());
        want.extend(5i32.to_be_bytes());
        want.extend([0, 1, b'm']);
        want.extend(1000i64.to_be_bytes());
        assert_eq!(&bytes[..], &want[..]);
        assert_eq!(decode_offset_value(&bytes), Ok(value.clone()));
        assert_eq!(decode_key(&key), Ok(RecordKey::Offset { group: "g".into(), topic: "t".into(), partition: 3 }));
        let v1 = OffsetValue { expire_timestamp_ms: Some(9), leader_epoch: -1, ..value };
        assert_eq!(decode_offset_value(&offset_value(&v1)), Ok(v1));
    }

    #[test]
    fn group_metadata_round_trips() {
        let value = GroupValue {
            protocol_type: "consumer".into(),
            generation_id: 7,
            protocol: Some("range".into()),
            leader: Some("m-1".into()),
            current_state_timestamp_ms: 123,
            members: vec![MemberValue {
                member_id: "m-1".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 45_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        let bytes = group_value(&value);
        assert_eq!(&bytes[..2], &[0, 3]);
        assert_eq!(decode_group_value(&bytes), Ok(value));
        assert_eq!(decode_key(&group_key("g")), Ok(RecordKey::Group { group: "g".into() }));
    }

    #[test]
    fn malformed_records_are_errors() {
        for bad in [&[][..], &[0], &[0, 9, 0, 0], &[0, 1, 0, 5, b'a'], &[0, 2, 0xff, 0xff]] {
            assert!(decode_key(bad).is_err(), "{bad:?}");
        }
        assert!(decode_offset_value(&[0, 3, 0, 0]).is_err());
        assert!(decode_offset_value(&[0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let mut huge = vec![0, 3, 0, 1, b'c', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
        huge.extend(0i64.to_be_bytes());
        huge.extend(i32::MAX.to_be_bytes());
        assert!(decode_group_value(&huge).is_err());
    }

    #[test]
    fn reads_consumer_protocol_assignments() {
        let mut buf = BytesMut::new();
        buf.put_i16(0);
        buf.put_i32(1);
        put_string(&mut buf, "orders");
        buf.put_i32(2);
        buf.put_i32(0);
        buf.put_i32(3);
        buf.put_i32(-1);
        assert_eq!(assignment_partitions(&buf), vec![("orders".to_string(), vec![0, 3])]);
        assert!(assignment_partitions(b"garbage").is_empty());
    }
}
