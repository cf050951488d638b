//! The records inside v2 batches, for the two places that need more than headers: validating what
//! a client produces before it is appended, and decoding stored batches for the few readers that
//! want records (ListOffsets by time, the message browser, compaction, the group loader, the
//! monitor's client).
//!
//! Both decompress with a bound: a batch may not inflate past `limit` bytes, whatever its codec
//! claims, and nothing is allocated from an untrusted length before it is checked. The codec's
//! own decoder (`RecordBatchDecoder::decode`) decompresses without a bound; clippy refuses it in
//! this workspace (`clippy.toml`), so every decode goes through [`decode_batch`].

use std::io::Read;

use bytes::Bytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder, RecordSet};

use super::batch::{BatchHeader, HEADER_LEN};

/// Default bound on one batch's uncompressed records (`[broker] max_uncompressed_batch_bytes`).
pub const DEFAULT_MAX_UNCOMPRESSED: usize = 32 << 20;

/// Why a batch's records were refused or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("unknown compression codec {0}")]
    UnknownCodec(i16),
    #[error("{codec} payload does not decompress: {reason}")]
    Decompress { codec: &'static str, reason: String },
    #[error("{codec} payload inflates past the {limit}-byte limit")]
    TooLarge { codec: &'static str, limit: usize },
    #[error("record {index}: {reason}")]
    Malformed { index: i32, reason: String },
    #[error("the batch header says {declared} records, its payload holds {found}")]
    CountMismatch { declared: i32, found: i32 },
    #[error("{0} bytes after the last record")]
    Trailing(usize),
}

/// The codec of a batch (attribute bits 0-2).
pub fn codec(attributes: i16) -> Result<Compression, RecordError> {
    Ok(match attributes & 0x07 {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        other => return Err(RecordError::UnknownCodec(other)),
    })
}

fn codec_name(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "uncompressed",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// Decompresses `data` (a batch's records section) into at most `limit` bytes.
pub fn decompress(compression: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>, RecordError> {
    let name = codec_name(compression);
    let failed = |e: std::io::Error| RecordError::Decompress { codec: name, reason: e.to_string() };
    let out = match compression {
        Compression::None => {
            if data.len() > limit {
                return Err(RecordError::TooLarge { codec: name, limit });
            }
            data.to_vec()
        }
        Compression::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(data), name, limit)?,
        Compression::Lz4 => read_bounded(lz4::Decoder::new(data).map_err(failed)?, name, limit)?,
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(data).map_err(failed)?;
            // A frame may ask for a window of up to 2 GiB; producers use a few MiB.
            decoder.window_log_max(24).map_err(failed)?;
            read_bounded(decoder, name, limit)?
        }
        Compression::Snappy => snappy(data, limit)?,
    };
    Ok(out)
}

fn read_bounded(reader: impl Read, codec: &'static str, limit: usize) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| RecordError::Decompress { codec, reason: e.to_string() })?;
    if out.len() > limit {
        return Err(RecordError::TooLarge { codec, limit });
    }
    Ok(out)
}

/// Kafka's snappy: xerial's framing (a magic header, then length-prefixed raw blocks) or, from
/// some clients, one raw snappy block.
fn snappy(data: &[u8], limit: usize) -> Result<Vec<u8>, RecordError> {
    const MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
    const HEADER: usize = 16;
    let failed = |reason: String| RecordError::Decompress { codec: "snappy", reason };
    let raw = |block: &[u8], out: &mut Vec<u8>| -> Result<(), RecordError> {
        let len = snap::raw::decompress_len(block).map_err(|e| failed(e.to_string()))?;
        if out.len().saturating_add(len) > limit {
            return Err(RecordError::TooLarge { codec: "snappy", limit });
        }
        let start = out.len();
        out.resize(start + len, 0);
        snap::raw::Decoder::new().decompress(block, &mut out[start..]).map_err(|e| failed(e.to_string()))?;
        Ok(())
    };
    let mut out = Vec::new();
    if data.len() < HEADER || &data[..MAGIC.len()] != MAGIC {
        raw(data, &mut out)?;
        return Ok(out);
    }
    let mut rest = &data[HEADER..];
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(failed("a block length is cut off".into()));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return Err(failed(format!("a block of {len} bytes with {} left", tail.len())));
        }
        raw(&tail[..len], &mut out)?;
        rest = &tail[len..];
    }
    Ok(out)
}

/// Checks the records of one whole batch a client sent (`batch` is the batch, header included):
/// the payload decompresses within `limit`, holds exactly the declared number of records, each
/// well formed (lengths within bounds, offset deltas 0, 1, 2, ..., header counts that fit), and
/// nothing after the last. Allocates only the decompressed payload.
pub fn validate_records(batch: &[u8], header: &BatchHeader, limit: usize) -> Result<(), RecordError> {
    let payload = &batch[HEADER_LEN..header.total_len()];
    let compression = codec(header.attributes)?;
    if compression == Compression::None {
        return walk_records(payload, header.records_count);
    }
    let inflated = decompress(compression, payload, limit)?;
    walk_records(&inflated, header.records_count)
}

fn walk_records(mut payload: &[u8], declared: i32) -> Result<(), RecordError> {
    let mut found = 0i32;
    while !payload.is_empty() && found < declared {
        let malformed = |reason: &str| RecordError::Malformed { index: found, reason: reason.to_string() };
        let len = varint(&mut payload).ok_or_else(|| malformed("bad length"))?;
        let len = usize::try_from(len).map_err(|_| malformed("negative length"))?;
        if len > payload.len() {
            return Err(malformed(&format!("length {len} with {} bytes left", payload.len())));
        }
        let (mut record, rest) = payload.split_at(len);
        payload = rest;
        walk_record(&mut record, found).map_err(|reason| RecordError::Malformed { index: found, reason })?;
        found += 1;
    }
    if found != declared {
        return Err(RecordError::CountMismatch { declared, found });
    }
    if !payload.is_empty() {
        return Err(RecordError::Trailing(payload.len()));
    }
    Ok(())
}

fn walk_record(record: &mut &[u8], index: i32) -> Result<(), String> {
    let (_attributes, rest) = record.split_first().ok_or("no attributes")?;
    *record = rest;
    varlong(record).ok_or("bad timestamp delta")?;
    let delta = varint(record).ok_or("bad offset delta")?;
    if i64::from(index) != delta {
        return Err(format!("offset delta {delta}, expected {index}"));
    }
    bytes_field(record, true).map_err(|e| format!("key: {e}"))?;
    bytes_field(record, true).map_err(|e| format!("value: {e}"))?;
    let headers = varint(record).ok_or("bad header count")?;
    if headers < 0 {
        return Err(format!("header count {headers}"));
    }
    for h in 0..headers {
        // Each header takes at least two bytes: a count larger than that cannot be real.
        if record.len() < 2 {
            return Err(format!("header {h} of {headers} is cut off"));
        }
        let key = bytes_field(record, false).map_err(|e| format!("header {h} key: {e}"))?;
        // Header keys are strings: every client writes UTF-8, and the readers decode them so.
        if std::str::from_utf8(key).is_err() {
            return Err(format!("header {h} key is not UTF-8"));
        }
        bytes_field(record, true).map_err(|e| format!("header {h} value: {e}"))?;
    }
    if !record.is_empty() {
        return Err(format!("{} bytes after its last field", record.len()));
    }
    Ok(())
}

/// A varint-length-prefixed byte string (-1 is null when `nullable`); returns it and moves past.
fn bytes_field<'a>(buf: &mut &'a [u8], nullable: bool) -> Result<&'a [u8], String> {
    let len = varint(buf).ok_or("bad length")?;
    if len == -1 && nullable {
        return Ok(&[]);
    }
    let len = usize::try_from(len).map_err(|_| format!("length {len}"))?;
    if len > buf.len() {
        return Err(format!("length {len} with {} bytes left", buf.len()));
    }
    let (field, rest) = buf.split_at(len);
    *buf = rest;
    Ok(field)
}

/// A zigzag varint of at most 5 bytes (Kafka's `varint`), as i64.
fn varint(buf: &mut &[u8]) -> Option<i64> {
    let v = unsigned(buf, 5)?;
    let v = u32::try_from(v).ok()?;
    Some(i64::from((v >> 1) as i32 ^ -((v & 1) as i32)))
}

/// A zigzag varint of at most 10 bytes (Kafka's `varlong`).
fn varlong(buf: &mut &[u8]) -> Option<i64> {
    let v = unsigned(buf, 10)?;
    Some((v >> 1) as i64 ^ -((v & 1) as i64))
}

fn unsigned(buf: &mut &[u8], max_bytes: usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let (byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Decodes the batch at the start of `bytes` (advancing past it) with decompression bounded by
/// `limit`.
pub fn decode_batch(bytes: &mut Bytes, limit: usize) -> Result<RecordSet, String> {
    let decompressor = |data: &mut Bytes, compression: Compression| -> anyhow::Result<Bytes> {
        decompress(compression, data, limit).map(Bytes::from).map_err(anyhow::Error::msg)
    };
    #[allow(clippy::disallowed_methods)]
    RecordBatchDecoder::decode_with_custom_compression(bytes, Some(decompressor)).map_err(|e| e.to_string())
}

/// Decodes every batch in `bytes` (see [`decode_batch`]).
pub fn decode_batches(mut bytes: Bytes, limit: usize) -> Result<Vec<RecordSet>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        out.push(decode_batch(&mut bytes, limit)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::tests::encode_batch;

    fn header(batch: &[u8]) -> BatchHeader {
        BatchHeader::validate(batch).expect("valid header")
    }

    #[test]
    fn batches_of_every_codec_validate_and_decode() {
        for compression in
            [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]
        {
            let batch = encode_batch(&[b"one", b"two", b"three"], 5, compression);
            validate_records(&batch, &header(&batch), 1 << 20).unwrap_or_else(|e| panic!("{compression:?}: {e}"));
            let set = decode_batch(&mut Bytes::from(batch), 1 << 20).expect("decode");
            assert_eq!(set.records.len(), 3);
        }
    }

    #[test]
    fn inflation_is_bounded_for_every_codec() {
        let big: Vec<u8> = vec![b'z'; 4 << 20];
        for compression in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let batch = encode_batch(&[&big], 5, compression);
            assert!(batch.len() < 1 << 20, "{compression:?} compresses the run");
            let err = validate_records(&batch, &header(&batch), 1 << 20).expect_err("too large");
            assert!(matches!(err, RecordError::TooLarge { .. }), "{compression:?}: {err}");
            assert!(decode_batch(&mut Bytes::from(batch), 1 << 20).is_err(), "{compression:?}");
        }
        // A raw snappy block whose header claims 4 GiB: refused from the header, not allocated.
        let claim = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert!(matches!(decompress(Compression::Snappy, &claim, 1 << 20), Err(RecordError::TooLarge { .. })));
    }

    #[test]
    fn malformed_records_are_refused() {
        let batch = encode_batch(&[b"one", b"two"], 5, Compression::None);
        let mut lying = batch.clone();
        // Claim three records (and three offsets) where there are two.
        lying[23..27].copy_from_slice(&2i32.to_be_bytes());
        lying[57..61].copy_from_slice(&3i32.to_be_bytes());
        let crc = crc32c::crc32c(&lying[21..]);
        lying[17..21].copy_from_slice(&crc.to_be_bytes());
        let err = validate_records(&lying, &header(&lying), 1 << 20).expect_err("count");
        assert!(matches!(err, RecordError::CountMismatch { declared: 3, found: 2 }), "{err}");
        // A record claiming 2^31-1 headers.
        let record = [0x14u8, 0, 0, 0, 0x01, 0x00, 0xfe, 0xff, 0xff, 0xff, 0x0f];
        let err = walk_records(&record, 1).expect_err("headers");
        assert!(err.to_string().contains("header"), "{err}");
        // Trailing bytes after the last record.
        let mut trailing = batch[HEADER_LEN..].to_vec();
        trailing.push(0);
        assert!(matches!(walk_records(&trailing, 2), Err(RecordError::Trailing(1))));
    }
}
