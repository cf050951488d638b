//! Kafka's shell tools, rebuilt on warren's own protocol client: `topics`, `console-producer`,
//! `console-consumer`, `consumer-groups`, `configs` and `delete-records`, with the flags and
//! output of `kafka-topics.sh`, `kafka-console-producer.sh`, `kafka-console-consumer.sh`,
//! `kafka-consumer-groups.sh`, `kafka-configs.sh` and `kafka-delete-records.sh`. They work against any Kafka-compatible cluster.
//!
//! Each tool is an async function returning `anyhow::Result`; `run` gives it a runtime and turns
//! a failure into one line on stderr (`Error: ...`) and exit status 1, which is the contract
//! scripts rely on. Results go to stdout; warnings and summaries to stderr, as Kafka's do.

pub mod configs;
pub mod consumer;
pub mod delete_records;
pub mod groups;
pub mod producer;
pub mod table;
pub mod topics;

use std::collections::BTreeMap;

use anyhow::{bail, Context};

use crate::kafka::{Client, ClientConfig};

/// One tool invocation, as `cli` parsed it.
pub enum Tool {
    Topics(topics::TopicsArgs),
    ConsoleProducer(producer::ProducerArgs),
    ConsoleConsumer(consumer::ConsumerArgs),
    ConsumerGroups(groups::GroupsArgs),
    Configs(configs::ConfigsArgs),
    DeleteRecords(delete_records::DeleteRecordsArgs),
}

/// Runs a tool to completion and returns the process exit status.
pub fn run(tool: Tool) -> i32 {
    // Logs only when asked for: a tool's stderr is for its one-line errors.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(async {
        match tool {
            Tool::Topics(args) => topics::run(args).await,
            Tool::ConsoleProducer(args) => producer::run(args).await,
            Tool::ConsoleConsumer(args) => consumer::run(args).await,
            Tool::ConsumerGroups(args) => groups::run(args).await,
            Tool::Configs(args) => configs::run(args).await,
            Tool::DeleteRecords(args) => delete_records::run(args).await,
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {}", one_line(&format!("{e:#}")));
            1
        }
    }
}

/// Newlines would break the one-line contract.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A client for `--bootstrap-server`, having read the metadata (so a dead address fails here).
pub async fn connect(
    bootstrap_server: &str,
    client_id: &str,
    command_config: Option<&std::path::Path>,
) -> anyhow::Result<Client> {
    connect_with(bootstrap_server, client_id, command_config, |_| {}).await
}

/// [`connect`], with the client's settings adjusted first.
pub async fn connect_with(
    bootstrap_server: &str,
    client_id: &str,
    command_config: Option<&std::path::Path>,
    adjust: impl FnOnce(&mut ClientConfig),
) -> anyhow::Result<Client> {
    let mut config = ClientConfig::from_list(bootstrap_server);
    config.client_id = client_id.to_string();
    if let Some(path) = command_config {
        config.security = std::sync::Arc::new(crate::security::command_config(path)?);
    }
    adjust(&mut config);
    Ok(Client::connect(config).await?)
}

/// `KEY=VALUE` arguments (`--property`, `--config`, ...) as a map; the last value wins.
pub fn parse_properties(flag: &str, values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for v in values {
        let Some((key, value)) = v.split_once('=') else {
            bail!("{flag} '{v}' is not KEY=VALUE");
        };
        if key.trim().is_empty() {
            bail!("{flag} '{v}' has an empty key");
        }
        out.insert(key.trim().to_string(), value.to_string());
    }
    Ok(out)
}

/// A `true`/`false` property (Kafka accepts any case).
pub fn bool_property(properties: &BTreeMap<String, String>, key: &str) -> anyhow::Result<bool> {
    match properties.get(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(anyhow::anyhow!("property {key}={v} must be true or false")),
    }
}

/// Kafka's separators allow escapes like `\t`.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Resolves at SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: a signal that arrives while warren is still starting is kept and
/// ends it cleanly once it can, instead of killing the process. Call it inside the runtime.
pub fn interrupted() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate()).ok();
    let int = signal(SignalKind::interrupt()).ok();
    async move {
        tokio::select! {
            () = wait_for(term) => {}
            () = wait_for(int) => {}
        }
    }
}

async fn wait_for(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// A partition list like Kafka's `--topic t:0,2` (all partitions when none are named).
pub fn topic_spec(spec: &str) -> anyhow::Result<(String, Option<Vec<i32>>)> {
    match spec.split_once(':') {
        None => Ok((spec.to_string(), None)),
        Some((topic, list)) => {
            let partitions = list
                .split(',')
                .map(|p| p.trim().parse::<i32>().with_context(|| format!("'{p}' in --topic {spec} is not a partition")))
                .collect::<anyhow::Result<Vec<i32>>>()?;
            Ok((topic.to_string(), Some(partitions)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_and_specs() {
        let p = parse_properties("--property", &["parse.key=true".into(), "key.separator=:=".into()]).expect("ok");
        assert_eq!(p.get("key.separator").map(String::as_str), Some(":="));
        assert!(bool_property(&p, "parse.key").expect("bool"));
        assert!(!bool_property(&p, "print.key").expect("absent"));
        assert!(parse_properties("--config", &["novalue".into()]).is_err());
        assert_eq!(unescape("\\t|\\n"), "\t|\n");
        assert_eq!(topic_spec("t").expect("ok"), ("t".to_string(), None));
        assert_eq!(topic_spec("t:0,2").expect("ok"), ("t".to_string(), Some(vec![0, 2])));
        assert!(topic_spec("t:x").is_err());
        assert_eq!(one_line("a\n  b\tc"), "a b c");
    }
}
