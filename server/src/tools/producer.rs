//! `warren console-producer`: `kafka-console-producer.sh`. One record per stdin line, sent as
//! lines arrive (whatever is already buffered goes in one request per leader).
//!
//! Keys (`--property parse.key=true`, split at `key.separator`, a tab by default) pick the
//! partition with Kafka's murmur2 hash, so a key lands where a Java producer would put it;
//! keyless records go round-robin from partition 0 (Kafka's sticky partitioner would fill one
//! random partition per batch instead). `--producer-property acks=0|1|all|-1` and
//! `compression.type=none|gzip|snappy|lz4|zstd` are honoured; other producer properties are
//! accepted and ignored with a warning.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use std::io::BufRead;

use crate::kafka::{Compression, ProduceRecord};

/// Records per produce round at most.
const MAX_BATCH_RECORDS: usize = 1000;

#[derive(Args, Debug, Clone)]
pub struct ProducerArgs {
    /// The cluster to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT", alias = "broker-list")]
    pub bootstrap_server: String,
    /// A Kafka client properties file for TLS and SASL (`security.protocol`, `sasl.mechanism`,
    /// `sasl.jaas.config`, `ssl.ca.location`, ...), as Kafka's tools take it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
    /// The topic to produce to.
    #[arg(long)]
    pub topic: String,
    /// Line reader properties: parse.key=true, key.separator=SEP (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Producer properties: acks=all|1|0, compression.type=... (repeatable).
    #[arg(long = "producer-property", value_name = "KEY=VALUE")]
    pub producer_properties: Vec<String>,
    /// Same as --producer-property acks=...
    #[arg(long, value_name = "ACKS")]
    pub request_required_acks: Option<String>,
    /// Same as --producer-property compression.type=...
    #[arg(long, value_name = "CODEC")]
    pub compression_codec: Option<String>,
}

/// How lines become records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFormat {
    pub parse_key: bool,
    pub key_separator: String,
}

impl LineFormat {
    /// `line_number` counts from 1, for the error Kafka gives when a key separator is missing.
    pub fn record(&self, line: &str, line_number: u64, timestamp_ms: i64) -> anyhow::Result<ProduceRecord> {
        let (key, value) = if self.parse_key {
            match line.split_once(self.key_separator.as_str()) {
                Some((k, v)) => (Some(Bytes::from(k.to_string())), v),
                None => bail!("No key separator found on line number {line_number}: '{line}'"),
            }
        } else {
            (None, line)
        };
        Ok(ProduceRecord { key, value: Some(Bytes::from(value.to_string())), headers: Vec::new(), timestamp_ms })
    }
}

/// Kafka's `Utils.murmur2`, which its default partitioner applies to key bytes.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner gives a key.
pub fn key_partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

fn parse_acks(text: &str) -> anyhow::Result<i16> {
    match text {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        other => bail!("acks must be all, -1, 0 or 1, not '{other}'"),
    }
}

fn parse_compression(text: &str) -> anyhow::Result<Compression> {
    Ok(match text {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => bail!("compression.type must be none, gzip, snappy, lz4 or zstd, not '{other}'"),
    })
}

pub async fn run(args: ProducerArgs) -> anyhow::Result<()> {
    let properties = super::parse_properties("--property", &args.properties)?;
    let producer_properties = super::parse_properties("--producer-property", &args.producer_properties)?;
    let format = LineFormat {
        parse_key: super::bool_property(&properties, "parse.key")?,
        key_separator: super::unescape(properties.get("key.separator").map_or("\t", String::as_str)),
    };
    let acks = parse_acks(
        args.request_required_acks.as_deref().or(producer_properties.get("acks").map(String::as_str)).unwrap_or("-1"),
    )?;
    let compression = parse_compression(
        args.compression_codec
            .as_deref()
            .or(producer_properties.get("compression.type").map(String::as_str))
            .unwrap_or("none"),
    )?;
    for key in producer_properties.keys().filter(|k| !matches!(k.as_str(), "acks" | "compression.type")) {
        eprintln!("WARN: producer property {key} is not supported and is ignored");
    }

    let client = super::connect(&args.bootstrap_server, "console-producer", args.command_config.as_deref()).await?;
    let metadata = client.metadata(Some(&[args.topic.as_str()])).await?;
    let partitions = match metadata.topics.get(&args.topic) {
        Some(t) if t.error_code == 0 && !t.partitions.is_empty() => t.partitions.len() as i32,
        _ => bail!("topic '{}' does not exist", args.topic),
    };

    // A reader thread hands lines over (stdin is blocking); each round sends everything read so
    // far. At EOF the sender is dropped and the loop below ends.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<String>>(MAX_BATCH_RECORDS);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let failed = line.is_err();
            if tx.blocking_send(line).is_err() || failed {
                return;
            }
        }
    });
    let mut line_number = 0u64;
    let mut round_robin = 0i32;
    while let Some(first) = rx.recv().await {
        let mut lines = vec![first];
        while lines.len() < MAX_BATCH_RECORDS {
            match rx.try_recv() {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        let now = crate::monitor::now_ms();
        let mut batches: BTreeMap<i32, Vec<ProduceRecord>> = BTreeMap::new();
        for line in lines {
            let line = line.context("cannot read stdin")?;
            line_number += 1;
            let record = format.record(line.strip_suffix('\r').unwrap_or(&line), line_number, now)?;
            let partition = match &record.key {
                Some(key) => key_partition(key, partitions),
                None => {
                    let p = round_robin;
                    round_robin = (round_robin + 1) % partitions;
                    p
                }
            };
            batches.entry(partition).or_default().push(record);
        }
        client.produce(&args.topic, &batches, acks, compression).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka() {
        // Kafka's UtilsTest vectors (also kafka-python's murmur2).
        for (input, want) in [
            (&b"21"[..], -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
            (b"", 275_646_681),
        ] {
            assert_eq!(murmur2(input), want, "{}", String::from_utf8_lossy(input));
        }
        assert_eq!(key_partition(b"21", 3), (-973_932_308i32 & 0x7fff_ffff) % 3);
    }

    #[test]
    fn lines_become_records() {
        let keyed = LineFormat { parse_key: true, key_separator: ":".into() };
        let r = keyed.record("k1:v:1", 1, 5).expect("record");
        assert_eq!((r.key.as_deref(), r.value.as_deref(), r.timestamp_ms), (Some(&b"k1"[..]), Some(&b"v:1"[..]), 5));
        let e = keyed.record("novalue", 7, 5).expect_err("no separator");
        assert_eq!(e.to_string(), "No key separator found on line number 7: 'novalue'");
        let plain = LineFormat { parse_key: false, key_separator: "\t".into() };
        let r = plain.record("a\tb", 1, 5).expect("record");
        assert_eq!((r.key, r.value.as_deref()), (None, Some(&b"a\tb"[..])));
        assert_eq!(parse_acks("all").expect("all"), -1);
        assert!(parse_acks("2").is_err());
        assert!(parse_compression("brotli").is_err());
    }
}
