//! Kafka Connect's decoders of bytes read from the cluster: the converters (a sink reads what
//! anyone produced) and the records of `connect-configs`, `connect-status` and
//! `connect-offsets`. None may panic. Run: `cd server/fuzz && cargo fuzz run connect_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::connect::converter::Converter;
use server::connect::topics::{decode_offset_key, decode_offset_value, ConfigRecord, StatusRecord};

fuzz_target!(|data: &[u8]| {
    for c in [Converter::Json { schemas_enable: true }, Converter::Json { schemas_enable: false }, Converter::String, Converter::ByteArray] {
        let _ = c.to_connect(Some(data));
    }
    let split = data.len() / 2;
    let _ = ConfigRecord::decode(&data[..split], Some(&data[split..]));
    let _ = StatusRecord::decode(data);
    let _ = decode_offset_key(data);
    let _ = decode_offset_value(Some(data));
});
