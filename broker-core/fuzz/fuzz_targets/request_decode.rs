//! Any bytes as a request frame: decoding must return Ok or Err, never panic or allocate wildly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = broker_core::formats::decode_request(bytes::Bytes::copy_from_slice(data));
});
