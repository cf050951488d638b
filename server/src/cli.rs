//! The `warren` command line: parse flags and config, init tracing, call `crate::run`.

use std::path::PathBuf;

use crate::config::{self, Flags};
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
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// TOML config file.
    #[arg(long, env = "WARREN_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Broker log dirs, cluster metadata and the SQLite database.
    #[arg(long, env = "WARREN_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Broker 1 listens here; broker k on PORT+k-1.
    #[arg(long, env = "WARREN_KAFKA_LISTEN", global = true)]
    kafka_listen: Option<String>,
    /// Dashboard, JSON API, Burrow API and /metrics.
    #[arg(long, env = "WARREN_HTTP_LISTEN", global = true)]
    http_listen: Option<String>,
    /// Logical brokers in the embedded cluster (1 to 9).
    #[arg(long, env = "WARREN_BROKERS", global = true)]
    brokers: Option<i32>,
    /// Refuse every mutating HTTP action with 403.
    #[arg(long, env = "WARREN_READ_ONLY", global = true)]
    read_only: bool,
    /// Run built-in producers and consumer groups.
    #[arg(long, env = "WARREN_DEMO", global = true)]
    demo: bool,
    /// Require `Authorization: Bearer TOKEN` for mutating HTTP actions.
    #[arg(long, env = "WARREN_ADMIN_TOKEN", global = true)]
    admin_token: Option<String>,
}

/// The whole `warren` program; the binary's `main` is only this call.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
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
    runtime.block_on(crate::run(config, shutdown_signal(), |_| {}))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
