//! Any bytes as the records section of a batch, under every codec, with any record count:
//! validating them as Produce does and decoding them as the readers do must return Ok or Err,
//! never panic, and never allocate past the decompression bound.
//!
//! Input: byte 0 picks the codec (0-4, and invalid ones), bytes 1-2 the declared record count,
//! the rest is the payload. Seeds in `seeds/records_decode/` hold real payloads of each codec.
#![no_main]

use broker_core::formats::BatchHeader;
use broker_core::formats::{decode_batch, validate_records};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let codec = i16::from(data[0] % 8);
    let count = i32::from(u16::from_be_bytes([data[1], data[2]]));
    let payload = &data[3..];
    let mut batch = Vec::with_capacity(61 + payload.len());
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&((49 + payload.len()) as i32).to_be_bytes());
    batch.extend_from_slice(&0i32.to_be_bytes());
    batch.push(2);
    batch.extend_from_slice(&0u32.to_be_bytes());
    batch.extend_from_slice(&codec.to_be_bytes());
    batch.extend_from_slice(&(count - 1).max(0).to_be_bytes());
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&0i64.to_be_bytes());
    batch.extend_from_slice(&(-1i64).to_be_bytes());
    batch.extend_from_slice(&(-1i16).to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes());
    batch.extend_from_slice(&count.to_be_bytes());
    batch.extend_from_slice(payload);
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    let Ok(header) = BatchHeader::validate(&batch) else {
        return;
    };
    let valid = validate_records(&batch, &header, LIMIT).is_ok();
    let mut bytes = bytes::Bytes::from(batch);
    let decoded = decode_batch(&mut bytes, LIMIT);
    // What Produce accepts, the readers can read, record for record.
    if valid {
        let set = decoded.expect("a validated batch decodes");
        assert_eq!(set.records.len(), count as usize);
    }
});
