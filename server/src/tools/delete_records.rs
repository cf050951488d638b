//! `warren delete-records`: `kafka-delete-records.sh`. Reads Kafka's offset JSON file
//! (`{"partitions": [{"topic": "t", "partition": 0, "offset": 10}], "version": 1}`; offset -1
//! deletes up to the high watermark), sends DeleteRecords to each leader and prints each
//! partition's new low watermark or its error, as Kafka's tool does.

use std::collections::BTreeMap;

use clap::Args;
use serde::Deserialize;

#[derive(Args, Debug, Clone)]
pub struct DeleteRecordsArgs {
    /// The cluster to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: String,
    /// A Kafka client properties file for TLS and SASL, as Kafka's tools take it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
    /// The partitions and offsets, in Kafka's JSON format.
    #[arg(long, value_name = "FILE")]
    pub offset_json_file: std::path::PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetFile {
    partitions: Vec<PartitionOffset>,
    #[serde(default)]
    version: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionOffset {
    topic: String,
    partition: i32,
    offset: i64,
}

/// The file's partitions and offsets; a partition named twice is an error, as in Kafka.
pub fn parse_offset_file(text: &str) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
    let file: OffsetFile = serde_json::from_str(text).map_err(|e| anyhow::anyhow!("the offset JSON file: {e}"))?;
    if let Some(v) = file.version.filter(|v| *v != 1) {
        anyhow::bail!("the offset JSON file: version {v} is not supported (1)");
    }
    let mut out = BTreeMap::new();
    for p in file.partitions {
        if p.offset < -1 {
            anyhow::bail!("the offset JSON file: offset {} of {}-{} is negative", p.offset, p.topic, p.partition);
        }
        let key = (p.topic, p.partition);
        if out.insert(key.clone(), p.offset).is_some() {
            anyhow::bail!("the offset JSON file names partition {}-{} more than once", key.0, key.1);
        }
    }
    if out.is_empty() {
        anyhow::bail!("the offset JSON file names no partition");
    }
    Ok(out)
}

pub async fn run(args: DeleteRecordsArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.offset_json_file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.offset_json_file.display()))?;
    let offsets = parse_offset_file(&text)?;
    let client =
        super::connect(&args.bootstrap_server, "warren-delete-records", args.command_config.as_deref()).await?;
    println!("Executing records delete operation");
    let results = client.delete_records(&offsets).await;
    println!("Records delete operation completed:");
    let mut failed = 0;
    for ((topic, partition), result) in &results {
        match result {
            Ok(low) => println!("partition: {topic}-{partition}\tlow_watermark: {low}"),
            Err(e) => {
                failed += 1;
                println!("partition: {topic}-{partition}\terror: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} partitions failed", results.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_files() {
        let parsed =
            parse_offset_file(r#"{"partitions":[{"topic":"t","partition":1,"offset":5}],"version":1}"#).expect("parse");
        assert_eq!(parsed, BTreeMap::from([(("t".to_string(), 1), 5)]));
        for bad in [
            r#"{"partitions":[]}"#,
            r#"{"partitions":[{"topic":"t","partition":1,"offset":-2}]}"#,
            r#"{"partitions":[{"topic":"t","partition":1,"offset":1},{"topic":"t","partition":1,"offset":2}]}"#,
            r#"{"partitions":[{"topic":"t","partition":1}]}"#,
            r#"{"partitions":[{"topic":"t","partition":1,"offset":1}],"version":2}"#,
            "not json",
        ] {
            assert!(parse_offset_file(bad).is_err(), "{bad}");
        }
    }
}
