//! Record batch v2 headers, read straight from raw bytes.
//!
//! Batches stay raw on the hot path: the broker validates length, magic and CRC-32C, then patches
//! `baseOffset` (bytes 0..8) and `partitionLeaderEpoch` (bytes 12..16), neither of which the CRC
//! covers. Nothing here allocates or panics on input; every read is bounds-checked.

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use thiserror::Error;

/// Bytes before `batchLength` ends: `baseOffset` (8) + `batchLength` (4).
pub const LOG_OVERHEAD: usize = 12;
/// Size of the fixed v2 batch header, up to and including `recordsCount`.
pub const HEADER_LEN: usize = 61;
/// The only record-batch format warren stores.
pub const MAGIC_V2: i8 = 2;

const CRC_START: usize = 21;

/// Attribute bit: the batch belongs to a transaction.
pub const ATTR_TRANSACTIONAL: i16 = 1 << 4;
/// Attribute bit: the batch holds a control record (commit or abort marker).
pub const ATTR_CONTROL: i16 = 1 << 5;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("batch is truncated: {available} bytes available, {needed} needed")]
    Truncated { available: usize, needed: usize },
    #[error("batch length {0} is smaller than the v2 header")]
    LengthTooSmall(i32),
    #[error("unsupported record batch magic {0} (only v2 is accepted)")]
    BadMagic(i8),
    #[error("CRC-32C mismatch: header says {expected:#010x}, data gives {actual:#010x}")]
    BadCrc { expected: u32, actual: u32 },
    #[error("batch declares {count} records over offset delta {last_offset_delta}")]
    BadCount { count: i32, last_offset_delta: i32 },
}

/// The fixed fields of one v2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Total size of the batch on disk and on the wire.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// What Kafka's validator demands of a batch a client produces (on top of [`validate`]):
    /// at least one record, one offset per record, and for an uncompressed batch no more records
    /// than its bytes can hold (a record takes at least 7). Logs may hold batches that fail this
    /// (compaction removes records and keeps the offsets), so followers and recovery skip it.
    ///
    /// [`validate`]: BatchHeader::validate
    pub fn is_sane_from_client(&self) -> bool {
        const MIN_RECORD_LEN: usize = 7;
        let uncompressed = self.attributes & 0x07 == 0;
        self.records_count >= 1
            && i64::from(self.records_count) == i64::from(self.last_offset_delta) + 1
            && (!uncompressed || self.records_count as usize <= (self.total_len() - HEADER_LEN) / MIN_RECORD_LEN)
    }

    /// Last sequence number in the batch, wrapping as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return self.base_sequence;
        }
        self.base_sequence.wrapping_add(self.last_offset_delta) & i32::MAX
    }

    /// Parses the header at the start of `buf` without checking the CRC or that the whole batch
    /// is present. Fails only when fewer than [`HEADER_LEN`] bytes are available or the length
    /// field is impossible.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        if buf.len() < HEADER_LEN {
            return Err(BatchError::Truncated { available: buf.len(), needed: HEADER_LEN });
        }
        let batch_length = i32_at(buf, 8);
        if (batch_length as i64) < (HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(BatchError::LengthTooSmall(batch_length));
        }
        Ok(BatchHeader {
            base_offset: i64_at(buf, 0),
            batch_length,
            partition_leader_epoch: i32_at(buf, 12),
            magic: buf[16] as i8,
            crc: u32::from_be_bytes([buf[17], buf[18], buf[19], buf[20]]),
            attributes: i16_at(buf, 21),
            last_offset_delta: i32_at(buf, 23),
            base_timestamp: i64_at(buf, 27),
            max_timestamp: i64_at(buf, 35),
            producer_id: i64_at(buf, 43),
            producer_epoch: i16_at(buf, 51),
            base_sequence: i32_at(buf, 53),
            records_count: i32_at(buf, 57),
        })
    }

    /// Parses and fully validates the batch at the start of `buf`: the whole batch is present,
    /// magic is 2, the CRC-32C matches and the counts are sane.
    pub fn validate(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        let header = Self::parse(buf)?;
        if header.magic != MAGIC_V2 {
            return Err(BatchError::BadMagic(header.magic));
        }
        let total = header.total_len();
        if buf.len() < total {
            return Err(BatchError::Truncated { available: buf.len(), needed: total });
        }
        let actual = crc32c::crc32c(&buf[CRC_START..total]);
        if actual != header.crc {
            return Err(BatchError::BadCrc { expected: header.crc, actual });
        }
        if header.last_offset_delta < 0
            || header.records_count < 0
            || i64::from(header.records_count) > i64::from(header.last_offset_delta) + 1
        {
            return Err(BatchError::BadCount {
                count: header.records_count,
                last_offset_delta: header.last_offset_delta,
            });
        }
        Ok(header)
    }
}

/// Splits a produce payload (a sequence of batches) into validated batches.
/// Any trailing bytes that do not form a whole batch are an error: a client never sends them.
pub fn split_batches(buf: &[u8]) -> Result<Vec<(usize, BatchHeader)>, BatchError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let header = BatchHeader::validate(&buf[pos..])?;
        out.push((pos, header));
        pos += header.total_len();
    }
    Ok(out)
}

/// A record warren writes itself: no producer id, no compression.
#[derive(Debug, Clone, Default)]
pub struct PlainRecord {
    pub key: Option<Bytes>,
    /// `None` is a tombstone.
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// One uncompressed v2 batch of records warren writes itself (the coordinator's commits, the
/// dashboard's produce form), all stamped `timestamp`.
pub fn encode_plain(records: impl IntoIterator<Item = PlainRecord>, timestamp: i64) -> Result<BytesMut, String> {
    encode_as(records, timestamp, None)
}

/// A producer a broker-written batch speaks for (the group coordinator's transactional offset
/// commits), with no sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerTag {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub transactional: bool,
}

/// Like [`encode_plain`], on behalf of `producer` when given.
pub fn encode_as(
    records: impl IntoIterator<Item = PlainRecord>,
    timestamp: i64,
    producer: Option<ProducerTag>,
) -> Result<BytesMut, String> {
    let tag = producer.unwrap_or(ProducerTag { producer_id: -1, producer_epoch: -1, transactional: false });
    let records: Vec<Record> = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: tag.transactional,
            control: false,
            partition_leader_epoch: 0,
            producer_id: tag.producer_id,
            producer_epoch: tag.producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // No sequence: kept in step with offsets so the encoder writes one batch (base
            // sequence -1).
            sequence: i as i32 - 1,
            timestamp,
            key: r.key,
            value: r.value,
            headers: r.headers.into_iter().map(|(k, v)| (StrBytes::from_string(k), v)).collect(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None })
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// A transaction marker as Kafka writes it: one control record in a transactional control batch
/// of the producer, key `version 0, type` (0 abort, 1 commit), value `version 0, coordinator
/// epoch`, no sequence.
pub fn encode_marker(
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    commit: bool,
    timestamp: i64,
) -> Result<BytesMut, String> {
    let mut key = BytesMut::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&i16::from(commit).to_be_bytes());
    let mut value = BytesMut::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let record = Record {
        transactional: true,
        control: true,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp,
        key: Some(key.freeze()),
        value: Some(value.freeze()),
        headers: Default::default(),
        delete_horizon: false,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[record],
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// What a control batch marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
}

/// The type of a control batch's record (`batch` is the whole batch), read without decoding
/// the batch: `None` for anything that is not an uncompressed control batch with a version-0
/// abort or commit key.
pub fn control_type(batch: &[u8], header: &BatchHeader) -> Option<ControlType> {
    read_marker(batch, header).map(|(kind, _)| kind)
}

/// A marker's type and the coordinator epoch its value carries (`None` when the value is
/// missing or short), read without decoding the batch.
pub fn read_marker(batch: &[u8], header: &BatchHeader) -> Option<(ControlType, Option<i32>)> {
    if !header.is_control() || header.attributes & 0x07 != 0 || header.records_count < 1 {
        return None;
    }
    let mut at = HEADER_LEN;
    let _length = varint(batch, &mut at)?;
    at += 1; // record attributes
    let _timestamp_delta = varint(batch, &mut at)?;
    let _offset_delta = varint(batch, &mut at)?;
    let key_len = varint(batch, &mut at)?;
    if key_len < 4 || batch.len() < at + 4 {
        return None;
    }
    if i16_at(batch, at) != 0 {
        return None;
    }
    let kind = match i16_at(batch, at + 2) {
        0 => ControlType::Abort,
        1 => ControlType::Commit,
        _ => return None,
    };
    // The value: `version i16, coordinator_epoch i32`.
    at = at.checked_add(usize::try_from(key_len).ok()?)?;
    let epoch = varint(batch, &mut at)
        .filter(|len| *len >= 6)
        .and_then(|_| (batch.len() >= at + 6).then(|| i32_at(batch, at + 2)));
    Some((kind, epoch))
}

/// A zigzag varint (at most 10 bytes), advancing `at`.
fn varint(buf: &[u8], at: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *buf.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    None
}

/// Splits batches read back from a log warren wrote (a leader's, for replication): lengths and
/// magic are checked, the CRC is not, because the leader validated it at append.
pub fn split_trusted(buf: &[u8]) -> Result<Vec<(usize, BatchHeader)>, BatchError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let header = BatchHeader::parse(&buf[pos..])?;
        if header.magic != MAGIC_V2 {
            return Err(BatchError::BadMagic(header.magic));
        }
        if buf.len() - pos < header.total_len() {
            return Err(BatchError::Truncated { available: buf.len() - pos, needed: header.total_len() });
        }
        out.push((pos, header));
        pos += header.total_len();
    }
    Ok(out)
}

/// Rewrites `baseOffset` and `partitionLeaderEpoch` of the batch at the start of `buf`.
/// Neither field is covered by the CRC, so the batch stays valid.
pub fn stamp(buf: &mut [u8], base_offset: i64, leader_epoch: i32) {
    buf[0..8].copy_from_slice(&base_offset.to_be_bytes());
    buf[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
}

fn i16_at(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}

fn i32_at(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn i64_at(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a real v2 batch with the crate's encoder, as a client would send it.
    pub(crate) fn encode_batch(values: &[&[u8]], timestamp: i64, compression: Compression) -> Vec<u8> {
        let records: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: timestamp + i as i64,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::copy_from_slice(v)),
                headers: Default::default(),
                delete_horizon: false,
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression };
        RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode batch");
        buf.to_vec()
    }

    #[test]
    fn validates_a_real_batch_and_reads_its_fields() {
        let batch = encode_batch(&[b"a", b"bb", b"ccc"], 1_000, Compression::None);
        let header = BatchHeader::validate(&batch).expect("valid");
        assert_eq!(header.total_len(), batch.len());
        assert_eq!(header.last_offset_delta, 2);
        assert_eq!(header.records_count, 3);
        assert_eq!(header.base_timestamp, 1_000);
        assert_eq!(header.max_timestamp, 1_002);
    }

    #[test]
    fn stamping_keeps_the_crc_valid() {
        let mut batch = encode_batch(&[b"x"], 5, Compression::Gzip);
        stamp(&mut batch, 42, 7);
        let header = BatchHeader::validate(&batch).expect("still valid");
        assert_eq!(header.base_offset, 42);
        assert_eq!(header.partition_leader_epoch, 7);
    }

    #[test]
    fn rejects_bad_input() {
        let batch = encode_batch(&[b"hello"], 5, Compression::None);
        let check = |buf: &[u8], want: fn(&BatchError) -> bool| {
            let err = BatchHeader::validate(buf).expect_err("must fail");
            assert!(want(&err), "unexpected error {err}");
        };
        check(&batch[..10], |e| matches!(e, BatchError::Truncated { .. }));
        check(&batch[..batch.len() - 1], |e| matches!(e, BatchError::Truncated { .. }));
        let mut flipped = batch.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        check(&flipped, |e| matches!(e, BatchError::BadCrc { .. }));
        let mut magic = batch.clone();
        magic[16] = 1;
        check(&magic, |e| matches!(e, BatchError::BadMagic(1)));
        let mut short = batch.clone();
        short[8..12].copy_from_slice(&10i32.to_be_bytes());
        check(&short, |e| matches!(e, BatchError::LengthTooSmall(10)));
    }

    #[test]
    fn splits_concatenated_batches() {
        let mut buf = encode_batch(&[b"a"], 1, Compression::None);
        buf.extend(encode_batch(&[b"b", b"c"], 2, Compression::Snappy));
        let batches = split_batches(&buf).expect("split");
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[1].1.records_count, 2);
        buf.push(0);
        assert!(split_batches(&buf).is_err());
    }

    /// A batch with a valid CRC that claims 2^31-1 records (and as many offsets): produce
    /// refuses it, and the record decoder (ListOffsets by timestamp, compaction, the message
    /// browser, the external-cluster client) fails instead of preallocating 220 GB and aborting
    /// the process as kafka-protocol 0.18.0 did (found by broker-core/fuzz).
    #[test]
    fn a_lying_record_count_is_refused_and_a_decode_error_not_an_abort() {
        for compression in [Compression::None, Compression::Gzip] {
            let honest = encode_batch(&[b"one", b"two"], 5, compression);
            assert!(BatchHeader::validate(&honest).expect("valid").is_sane_from_client());
            let lie = |count: i32, delta: i32| {
                let mut batch = honest.clone();
                batch[23..27].copy_from_slice(&delta.to_be_bytes());
                batch[57..61].copy_from_slice(&count.to_be_bytes());
                let crc = crc32c::crc32c(&batch[CRC_START..]);
                batch[17..21].copy_from_slice(&crc.to_be_bytes());
                batch
            };
            let batch = lie(i32::MAX, i32::MAX - 1);
            let header = BatchHeader::validate(&batch).expect("the CRC holds");
            assert_eq!(header.records_count, i32::MAX);
            assert_eq!(header.is_sane_from_client(), compression != Compression::None, "uncompressed: too few bytes");
            let mut bytes = Bytes::from(batch);
            assert!(super::super::records::decode_batch(&mut bytes, 1 << 20).is_err());
            // One record fewer than offsets (as compaction leaves it): valid, but not from a client.
            let gap = BatchHeader::validate(&lie(1, 1)).expect("valid");
            assert!(!gap.is_sane_from_client());
        }
    }

    /// Markers are Kafka's control batches: one record, key `0, type`, value `0, coordinator
    /// epoch`, transactional and control attributes, no sequence; the type reads back, and bytes
    /// that are not a marker read as none.
    #[test]
    fn markers_round_trip_and_garbage_is_no_marker() {
        for (commit, kind) in [(true, ControlType::Commit), (false, ControlType::Abort)] {
            let bytes = encode_marker(42, 3, 7, commit, 1_000).expect("encode");
            let header = BatchHeader::validate(&bytes).expect("a valid batch");
            assert_eq!(header.attributes, ATTR_TRANSACTIONAL | ATTR_CONTROL);
            assert_eq!((header.producer_id, header.producer_epoch, header.base_sequence), (42, 3, -1));
            assert_eq!(header.records_count, 1);
            assert_eq!(control_type(&bytes, &header), Some(kind));
            assert_eq!(read_marker(&bytes, &header), Some((kind, Some(7))));
            let mut b = Bytes::copy_from_slice(&bytes);
            let records = crate::log::records::decode_batch(&mut b, 1 << 10).expect("decode");
            let value = records.records[0].value.clone().expect("value");
            assert_eq!(&value[..], &[0, 0, 0, 0, 0, 7]);
        }
        let bytes = encode_marker(1, 0, 0, true, 0).expect("encode");
        let header = BatchHeader::validate(&bytes).expect("valid");
        for cut in HEADER_LEN..bytes.len() {
            let _ = control_type(&bytes[..cut], &header);
        }
        let data = encode_plain([PlainRecord { key: None, value: None, headers: Vec::new() }], 0).expect("encode");
        assert_eq!(control_type(&data, &BatchHeader::validate(&data).expect("valid")), None);
        let mut odd = bytes.to_vec();
        let at = odd.len() - 10;
        odd[at] = 0x7f;
        let _ = control_type(&odd, &header);
    }
}
