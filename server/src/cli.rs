//! The `warren` command line: parse flags and config, init tracing, call `crate::run`; or run one
//! of the Kafka-style tools (`topics`, `console-producer`, `console-consumer`,
//! `consumer-groups`, `configs`, `delete-records`), which talk to any cluster over the Kafka protocol and exit.

use std::path::PathBuf;

use crate::config::{self, Flags};
use crate::tools::{self, Tool};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "warren", version, about = "An embedded Kafka-compatible cluster with Burrow-style monitoring")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded cluster, the monitor and the web server (the default).
    Serve(ServeArgs),
    /// Create, list, describe, delete or alter topics (kafka-topics.sh).
    Topics(tools::topics::TopicsArgs),
    /// Produce one record per stdin line (kafka-console-producer.sh).
    ConsoleProducer(tools::producer::ProducerArgs),
    /// Print a topic's records (kafka-console-consumer.sh).
    ConsoleConsumer(tools::consumer::ConsumerArgs),
    /// List, describe and delete groups, reset their offsets (kafka-consumer-groups.sh).
    ConsumerGroups(tools::groups::GroupsArgs),
    /// Describe and alter topic and broker configs (kafka-configs.sh).
    Configs(tools::configs::ConfigsArgs),
    /// Delete records below given offsets (kafka-delete-records.sh).
    DeleteRecords(tools::delete_records::DeleteRecordsArgs),
}

/// `serve`'s flags, accepted before the subcommand too (`warren --data-dir d serve`). Not clap
/// "global" args: those would leak into the tools, where `topics --config k=v` means something else.
#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// TOML config file.
    #[arg(long, env = "WARREN_CONFIG")]
    config: Option<PathBuf>,
    /// Broker log dirs, cluster metadata and the SQLite database.
    #[arg(long, env = "WARREN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Broker 1 listens here; broker k on PORT+k-1.
    #[arg(long, env = "WARREN_KAFKA_LISTEN")]
    kafka_listen: Option<String>,
    /// Dashboard, JSON API, Burrow API and /metrics.
    #[arg(long, env = "WARREN_HTTP_LISTEN")]
    http_listen: Option<String>,
    /// Kafka Connect's REST API (default 127.0.0.1:8083; `[connect] listen`).
    #[arg(long, env = "WARREN_CONNECT_LISTEN")]
    connect_listen: Option<String>,
    /// Logical brokers in the embedded cluster (1 to 9).
    #[arg(long, env = "WARREN_BROKERS")]
    brokers: Option<i32>,
    /// Refuse every mutating HTTP action with 403.
    #[arg(long, env = "WARREN_READ_ONLY")]
    read_only: bool,
    /// Run built-in producers and consumer groups.
    #[arg(long, env = "WARREN_DEMO")]
    demo: bool,
    /// Require `Authorization: Bearer TOKEN` for mutating HTTP actions.
    #[arg(long, env = "WARREN_ADMIN_TOKEN")]
    admin_token: Option<String>,
}

impl ServeArgs {
    /// These flags, falling back to `outer`'s (given before the subcommand) where unset.
    fn or(self, outer: ServeArgs) -> ServeArgs {
        ServeArgs {
            config: self.config.or(outer.config),
            data_dir: self.data_dir.or(outer.data_dir),
            kafka_listen: self.kafka_listen.or(outer.kafka_listen),
            http_listen: self.http_listen.or(outer.http_listen),
            connect_listen: self.connect_listen.or(outer.connect_listen),
            brokers: self.brokers.or(outer.brokers),
            read_only: self.read_only || outer.read_only,
            demo: self.demo || outer.demo,
            admin_token: self.admin_token.or(outer.admin_token),
        }
    }
}

/// The whole `warren` program; the binary's `main` is only this call.
pub fn main() -> anyhow::Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print to stdout and exit 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("{}", usage_error_line(&e.render().to_string()));
            std::process::exit(2);
        }
    };
    let tool = match cli.command {
        Some(Command::Serve(args)) => return serve(args.or(cli.serve)),
        None => return serve(cli.serve),
        Some(Command::Topics(args)) => Tool::Topics(args),
        Some(Command::ConsoleProducer(args)) => Tool::ConsoleProducer(args),
        Some(Command::ConsoleConsumer(args)) => Tool::ConsoleConsumer(args),
        Some(Command::ConsumerGroups(args)) => Tool::ConsumerGroups(args),
        Some(Command::Configs(args)) => Tool::Configs(args),
        Some(Command::DeleteRecords(args)) => Tool::DeleteRecords(args),
    };
    std::process::exit(tools::run(tool))
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let file_text = match &args.config {
        Some(path) => {
            Some(std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?)
        }
        None => None,
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    let flags = Flags {
        data_dir: args.data_dir,
        kafka_listen: args.kafka_listen,
        http_listen: args.http_listen,
        connect_listen: args.connect_listen,
        brokers: args.brokers,
        read_only: args.read_only,
        demo: args.demo,
        admin_token: args.admin_token,
    };
    let mut config = config::resolve(file_text.as_deref(), &env, &flags).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        config.hostname = name.trim().to_string();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async { crate::run(config, crate::tools::interrupted(), |_| {}).await })
}

/// clap's usage error on one line (scripts get one line on stderr from every failure):
/// the message, without the usage block and the "--help" hint.
fn usage_error_line(rendered: &str) -> String {
    let message: Vec<&str> =
        rendered.lines().take_while(|l| !l.starts_with("Usage:")).map(str::trim).filter(|l| !l.is_empty()).collect();
    message.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn usage_errors_fit_on_one_line() {
        let e = Cli::try_parse_from(["warren", "topics", "--bootstrap-server", "b:1"]).err().expect("no action");
        assert_eq!(
            usage_error_line(&e.render().to_string()),
            "error: the following required arguments were not provided: <--create|--list|--describe|--delete|--alter>"
        );
    }

    #[test]
    fn serve_is_the_default_and_tools_parse_kafka_flags() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["warren", "--data-dir", "d"]).expect("serve flags");
        assert!(cli.command.is_none() && cli.serve.data_dir.is_some());
        let cli = Cli::try_parse_from([
            "warren",
            "topics",
            "--bootstrap-server",
            "b:1",
            "--create",
            "--topic",
            "t",
            "--partitions",
            "3",
            "--replication-factor",
            "2",
            "--config",
            "retention.ms=1000",
            "--config",
            "cleanup.policy=compact",
        ])
        .expect("topics");
        let Some(Command::Topics(args)) = cli.command else { panic!("not topics") };
        assert_eq!(args.configs, ["retention.ms=1000", "cleanup.policy=compact"]);
        for argv in [
            &[
                "warren",
                "console-producer",
                "--bootstrap-server",
                "b:1",
                "--topic",
                "t",
                "--property",
                "parse.key=true",
                "--property",
                "key.separator=:",
                "--producer-property",
                "acks=all",
            ][..],
            &[
                "warren",
                "console-consumer",
                "--bootstrap-server",
                "b:1",
                "--topic",
                "t",
                "--from-beginning",
                "--group",
                "g",
                "--max-messages",
                "5",
                "--timeout-ms",
                "1000",
                "--property",
                "print.key=true",
            ],
            &[
                "warren",
                "consumer-groups",
                "--bootstrap-server",
                "b:1",
                "--reset-offsets",
                "--group",
                "g",
                "--topic",
                "t",
                "--to-offset",
                "-1",
                "--dry-run",
            ],
            &["warren", "consumer-groups", "--bootstrap-server", "b:1", "--describe", "--group", "g"],
        ] {
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        }
        assert!(Cli::try_parse_from([
            "warren",
            "consumer-groups",
            "--bootstrap-server",
            "b:1",
            "--list",
            "--describe"
        ])
        .is_err());
    }
}
