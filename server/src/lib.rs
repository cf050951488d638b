//! The `warren` server: configuration, the embedded cluster's lifecycle and the web surface.
//!
//! `run` takes a resolved `Config` and a shutdown future; it never reads the environment or
//! files itself (`cli` does).

pub mod alerts;
pub mod cli;
pub mod config;
pub mod connect;
mod demo;
pub mod evaluator;
pub mod kafka;
pub mod metrics;
pub mod monitor;
pub mod security;
pub mod store;
pub mod streams;
pub mod time;
pub mod tools;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

pub use config::Config;

/// Binds broker k's listener on the base port + k - 1 (each on its own port 0 when the base is 0).
pub async fn bind_brokers(base: SocketAddr, brokers: i32) -> anyhow::Result<Vec<TcpListener>> {
    let mut listeners = Vec::with_capacity(brokers as usize);
    for k in 0..brokers {
        let mut addr = base;
        if base.port() != 0 {
            addr.set_port(base.port() + k as u16);
        }
        listeners
            .push(TcpListener::bind(addr).await.with_context(|| format!("broker {} cannot listen on {addr}", k + 1))?);
    }
    Ok(listeners)
}

/// Addresses a running warren serves on.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The embedded brokers' addresses (empty without an embedded cluster).
    pub kafka: Vec<SocketAddr>,
    pub http: SocketAddr,
    /// Kafka Connect's REST API (None when the worker is off).
    pub connect: Option<SocketAddr>,
    pub cluster: Option<Arc<broker_core::Cluster>>,
}

/// Runs `warren serve` until `shutdown` resolves; `on_bound` learns the bound addresses first.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    let data_dir = config.cluster.data_dir.clone();
    let (embedded, kafka) = if config.embedded {
        let listeners = bind_brokers(config.kafka_listen, config.cluster.brokers).await?;
        let kafka = listeners.iter().map(TcpListener::local_addr).collect::<Result<_, _>>()?;
        let mut cluster_config = config.cluster.clone();
        cluster_config.security = security::broker_security(&config.security)?;
        let embedded = broker_core::Embedded::start(cluster_config, listeners)
            .with_context(|| format!("cannot open the cluster in {}", data_dir.display()))?;
        (Some(embedded), kafka)
    } else {
        std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
        (None, Vec::new())
    };
    let cluster = embedded.as_ref().map(|e| Arc::clone(&e.cluster));
    let http = TcpListener::bind(config.http_listen)
        .await
        .with_context(|| format!("HTTP cannot listen on {}", config.http_listen))?;
    let connect_listener = match (config.connect_listen, &cluster) {
        (Some(addr), Some(_)) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("Kafka Connect cannot listen on {addr} ([connect] listen)"))?,
        ),
        _ => None,
    };
    let bound = Bound {
        kafka,
        http: http.local_addr()?,
        connect: connect_listener.as_ref().map(TcpListener::local_addr).transpose()?,
        cluster: cluster.clone(),
    };
    let ready = Arc::new(AtomicBool::new(false));
    let db_path = data_dir.join("warren.db");
    let store = store::Store::open(&db_path)
        .await
        .with_context(|| format!("cannot open the database {}", db_path.display()))?;
    let monitor = Arc::new(monitor::Monitor::default());
    let monitor_config = monitor::MonitorConfig::from_section(&config.monitor);
    let mut tasks = Vec::new();
    let mut clients = std::collections::BTreeMap::new();
    let mut stream_clients = std::collections::BTreeMap::new();
    if embedded.is_some() {
        // Stream jobs reach the embedded cluster over the protocol like any client.
        let mut client = kafka::ClientConfig::new(bound.kafka.iter().map(ToString::to_string));
        client.client_id = "warren-streams".into();
        client.security = Arc::new(security::embedded_client_security(&config.security)?);
        stream_clients.insert(config.cluster.name.clone(), client);
    }
    if let Some(cluster) = &cluster {
        tasks.push(tokio::spawn(monitor::run_sampler(
            Arc::clone(&monitor),
            config.cluster.name.clone(),
            monitor::Source::Embedded(Arc::clone(cluster)),
            store.clone(),
            monitor_config.clone(),
        )));
        if config.demo {
            tasks.push(tokio::spawn(demo::run(Arc::clone(cluster))));
        }
    }
    // One sampler per external cluster ([[clusters]]), read over the Kafka protocol; a tick stops
    // retrying by the time the next one is due, and one unreachable cluster never holds up another.
    for external in &config.external_clusters {
        let mut client = kafka::ClientConfig::new(external.bootstrap_servers.iter().cloned());
        client.client_id = format!("warren-monitor-{}", external.name);
        client.retry_timeout = config.monitor.sample_interval;
        client.security = Arc::new(
            security::cluster_security(external).with_context(|| format!("[[clusters]] '{}'", external.name))?,
        );
        let client = kafka::Client::new(client);
        stream_clients.insert(external.name.clone(), client.config().clone());
        clients.insert(external.name.clone(), client.clone());
        let source = monitor::external::External::new(client);
        tasks.push(tokio::spawn(monitor::run_sampler(
            Arc::clone(&monitor),
            external.name.clone(),
            monitor::Source::External(Arc::new(source)),
            store.clone(),
            monitor_config.clone(),
        )));
    }
    let alert_options =
        alerts::AlertsOptions { external_url: format!("http://{}", bound.http), ..alerts::AlertsOptions::default() };
    let alerts = alerts::Alerts::new(store.clone(), &config.alerts, alert_options, Arc::new(monitor::now_ms))
        .context("invalid alert configuration")?;
    tasks.push(tokio::spawn(alerts::feed::run(
        Arc::clone(&monitor),
        Arc::clone(&alerts),
        config.monitor.sample_interval.min(std::time::Duration::from_secs(1)),
    )));
    // A delivery cut short at shutdown is sent again after the next start, with the same webhook-id.
    tasks.push(tokio::spawn(Arc::clone(&alerts).run_delivery(std::future::pending())));
    let (streams, stream_tasks) = streams::Streams::start(&config.streams, stream_clients);
    tasks.extend(stream_tasks);
    let connect = match (connect_listener, &cluster) {
        (Some(listener), Some(cluster)) => {
            // The worker reaches the embedded cluster over the protocol, as Kafka's does.
            let mut client = kafka::ClientConfig::new(bound.kafka.iter().map(ToString::to_string));
            client.client_id = "warren-connect".into();
            client.read_committed = true;
            client.security = Arc::new(security::embedded_client_security(&config.security)?);
            let addr = listener.local_addr()?;
            let (worker, worker_tasks) =
                connect::worker::Worker::start(kafka::Client::new(client), addr.to_string(), cluster.cluster_id());
            tasks.extend(worker_tasks);
            let rest = connect::rest::router(connect::rest::RestState {
                worker: Arc::clone(&worker),
                read_only: config.read_only,
                admin_token: config.admin_token.clone(),
                allowed_hosts: Arc::new(connect_hosts(&config.allowed_hosts, addr)),
            });
            tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, rest).await {
                    tracing::error!(error = %e, "Kafka Connect's REST listener failed");
                }
            }));
            Some(worker)
        }
        _ => None,
    };
    let state = web::AppState {
        streams,
        connect: connect.clone(),
        cluster,
        ready: Arc::clone(&ready),
        read_only: config.read_only,
        admin_token: config.admin_token.clone(),
        monitor: Arc::clone(&monitor),
        store: store.clone(),
        alerts_config: Arc::new(config.alerts.clone()),
        alerts: Arc::clone(&alerts),
        external: Arc::new(config.external_clusters.clone()),
        clients: Arc::new(clients),
        metrics: metrics::MetricsConfig { per_partition: config.metrics.per_partition },
        hostname: config.hostname.clone(),
        sample_interval_s: config.monitor.sample_interval.as_secs(),
        allowed_hosts: Arc::new(config.allowed_hosts.clone()),
    };
    let app = web::router(state);
    if embedded.is_some() {
        // Pages and the API read the monitor's views: the embedded cluster's is there from the start.
        monitor.refresh(&config.cluster.name, std::time::Duration::from_secs(10)).await;
    }
    tracing::info!(kafka = ?bound.kafka, http = %bound.http, connect = ?bound.connect, data_dir = %data_dir.display(), "warren is up");
    on_bound(bound);
    ready.store(true, Ordering::Release);
    axum::serve(http, app).with_graceful_shutdown(shutdown).await.context("HTTP server failed")?;
    tracing::info!("shutting down: flushing logs");
    if let Some(worker) = &connect {
        worker.shutdown().await;
    }
    for task in &tasks {
        task.abort();
    }
    if let Some(embedded) = embedded {
        embedded.shutdown().await;
    }
    store.close().await;
    tracing::info!("clean shutdown complete");
    Ok(())
}

/// The Host names the Connect listener answers to: the dashboard's, and its own address's.
fn connect_hosts(allowed: &[String], addr: SocketAddr) -> Vec<String> {
    let mut hosts = allowed.to_vec();
    for host in config::default_allowed_hosts(&addr) {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}
