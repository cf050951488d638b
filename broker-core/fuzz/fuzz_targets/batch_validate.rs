//! Any bytes as a produce payload: validation must never panic, and whatever it accepts must be
//! whole batches the record decoder can read.
#![no_main]

use broker_core::formats::split_batches;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batches) = split_batches(data) {
        let total: usize = batches.iter().map(|(_, h)| h.total_len()).sum();
        assert_eq!(total, data.len(), "accepted batches must cover the payload exactly");
        for (pos, header) in batches {
            let mut bytes = bytes::Bytes::copy_from_slice(&data[pos..pos + header.total_len()]);
            let _ = broker_core::formats::decode_batch(&mut bytes, 1 << 20);
        }
    }
});
