//! Any bytes as SASL messages, on both sides: the broker's SCRAM exchange (client-first, then
//! client-final), the client's (server-first, then server-final, from a hostile broker), PLAIN,
//! and a client certificate's DER (its common name is a principal). Each must return Ok or Err,
//! never panic; a forged proof must never authenticate.
//!
//! Input: byte 0 picks the parser; for the two-message exchanges a 0x00 byte splits the rest
//! into the first and second message. Seeds in `seeds/sasl_messages/` hold real exchanges.
#![no_main]

use broker_core::security::certificate_common_name;
use broker_core::security::scram::{parse_plain, ClientScram, ScramCredential, ScramHash, ServerScram};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let hash = if selector & 0x80 == 0 { ScramHash::Sha256 } else { ScramHash::Sha512 };
    match selector & 0x7f {
        0 => {
            let (first, last) = split(rest);
            static CREDENTIALS: OnceLock<[ScramCredential; 2]> = OnceLock::new();
            let credentials = CREDENTIALS.get_or_init(|| {
                [ScramHash::Sha256, ScramHash::Sha512]
                    .map(|h| ScramCredential::from_password(h, "pencil", b"fuzz-salt-16byte".to_vec(), 4096))
            });
            let credential = credentials[usize::from(selector >> 7)].clone();
            let mut server = ServerScram::new(hash);
            if server.first(first, "servernonce", |_| Some(credential)).is_ok() {
                // Without the password the fuzzer cannot forge a proof.
                assert!(server.finish(last).is_err(), "a forged SCRAM proof authenticated");
            }
        }
        1 => {
            let (first, last) = split(rest);
            let (mut client, _) = ClientScram::start(hash, "user", "pencil", "clientnonce".into());
            if client.respond(first).is_ok() {
                assert!(client.verify(last).is_err(), "a forged server signature was accepted");
            }
        }
        2 => {
            let _ = parse_plain(rest);
        }
        _ => {
            let _ = certificate_common_name(rest);
        }
    }
});
