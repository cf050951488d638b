//! Any bytes as a `__transaction_state` key or value, or as a control batch: decoding returns
//! Ok or Err (a marker type or none), never panics, never allocates from a count it read; what
//! decodes encodes back to the same state.
//!
//! Input: byte 0 picks what the rest is (key, value, control batch record section).
#![no_main]

use broker_core::formats::{control_type, decode_txn_key, decode_txn_value, encode_marker, txn_value, BatchHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    match kind % 3 {
        0 => {
            let _ = decode_txn_key(rest);
        }
        1 => {
            if let Ok(v) = decode_txn_value(rest) {
                assert_eq!(decode_txn_value(&txn_value(&v)).expect("re-decodes"), v);
            }
        }
        _ => {
            // A real marker's header over the fuzzed record section.
            let marker = encode_marker(1, 0, 0, true, 0).expect("encode");
            let mut batch = marker[..61].to_vec();
            batch.extend_from_slice(rest);
            let Ok(header) = BatchHeader::parse(&batch) else {
                return;
            };
            let _ = control_type(&batch, &header);
        }
    }
});
