//! Test harness: starts warren in-process (for most scenarios) or as a child process (for kill -9)
//! on loopback port 0, each with its own temporary data dir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::config::{self, Flags};
use tokio::sync::oneshot;

/// A warren running inside the test process.
pub struct Warren {
    pub kafka: Vec<SocketAddr>,
    pub http: SocketAddr,
    /// Kafka Connect's REST API.
    pub connect: SocketAddr,
    pub cluster: std::sync::Arc<broker_core::Cluster>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test warren, as TOML plus flags.
#[derive(Clone, Default)]
pub struct Options {
    pub brokers: Option<i32>,
    pub toml: String,
    /// `--demo`.
    pub demo: bool,
}

impl Options {
    pub fn brokers(n: i32) -> Options {
        Options { brokers: Some(n), ..Options::default() }
    }

    pub fn with_toml(mut self, toml: &str) -> Options {
        self.toml.push_str(toml);
        self.toml.push('\n');
        self
    }
}

/// A warren started in this process, before it is known whether it embeds a cluster.
struct Started {
    bound: server::Bound,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_in_process(data_dir: &Path, options: Options) -> anyhow::Result<Started> {
    let flags = Flags {
        data_dir: Some(data_dir.to_path_buf()),
        kafka_listen: Some("127.0.0.1:0".into()),
        http_listen: Some("127.0.0.1:0".into()),
        connect_listen: Some("127.0.0.1:0".into()),
        brokers: options.brokers,
        demo: options.demo,
        ..Flags::default()
    };
    let config = config::resolve(Some(&options.toml), &[], &flags)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let (bound_tx, bound_rx) = oneshot::channel();
    let task = tokio::spawn(server::run(
        config,
        async move {
            let _ = stopped.await;
        },
        move |bound| {
            let _ = bound_tx.send(bound);
        },
    ));
    match bound_rx.await {
        Ok(bound) => Ok(Started { bound, stop, task }),
        Err(_) => {
            task.await??;
            anyhow::bail!("warren stopped before binding")
        }
    }
}

/// A warren running as a pure monitor (`[cluster] embedded = false`), in this process.
pub struct MonitorOnly {
    pub http: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl MonitorOnly {
    pub async fn start(data_dir: &Path, toml: &str) -> anyhow::Result<MonitorOnly> {
        let started = start_in_process(data_dir, Options::default().with_toml(toml)).await?;
        anyhow::ensure!(started.bound.cluster.is_none(), "expected no embedded cluster");
        Ok(MonitorOnly { http: started.bound.http, stop: started.stop, task: started.task })
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}

impl Warren {
    pub async fn start(data_dir: &Path, options: Options) -> anyhow::Result<Warren> {
        let Started { bound, stop, task } = start_in_process(data_dir, options).await?;
        let cluster = bound.cluster.ok_or_else(|| anyhow::anyhow!("the test warren has no embedded cluster"))?;
        let connect = bound.connect.ok_or_else(|| anyhow::anyhow!("the test warren runs no Connect worker"))?;
        Ok(Warren { kafka: bound.kafka, http: bound.http, connect, cluster, stop: Some(stop), task: Some(task) })
    }

    pub fn bootstrap(&self) -> String {
        self.kafka[0].to_string()
    }

    /// Graceful shutdown, as SIGTERM does it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

/// A warren running as a child process (`target/<profile>/warren-e2e`), for crash tests.
pub struct WarrenProcess {
    pub child: Child,
    pub kafka: SocketAddr,
    pub http: SocketAddr,
    /// Kafka Connect's REST API.
    pub connect: SocketAddr,
}

/// This package's copy of the `warren` program, next to the test executable's `deps/` directory
/// (cargo builds a package's binaries before running its integration tests).
pub fn warren_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    dir.join("warren-e2e")
}

/// A free loopback port range for `n` brokers (best effort: bind and release).
pub fn free_ports(n: u16) -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = l.local_addr().expect("addr").port();
        drop(l);
        if base < 60000 && (0..n).all(|k| std::net::TcpListener::bind(("127.0.0.1", base + k)).is_ok()) {
            return base;
        }
    }
}

impl WarrenProcess {
    pub fn spawn(
        data_dir: &Path,
        brokers: i32,
        kafka_port: u16,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<WarrenProcess> {
        Self::spawn_logged(data_dir, brokers, kafka_port, extra_env, None)
    }

    /// As [`WarrenProcess::spawn`], with warren's log (its stdout) appended to `log`.
    pub fn spawn_logged(
        data_dir: &Path,
        brokers: i32,
        kafka_port: u16,
        extra_env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> anyhow::Result<WarrenProcess> {
        let http_port = free_ports(1);
        let connect_port = free_ports(1);
        let stdout = match log {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            None => Stdio::null(),
        };
        let mut cmd = Command::new(warren_binary());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--brokers")
            .arg(brokers.to_string())
            .arg("--kafka-listen")
            .arg(format!("127.0.0.1:{kafka_port}"))
            .arg("--http-listen")
            .arg(format!("127.0.0.1:{http_port}"))
            .arg("--connect-listen")
            .arg(format!("127.0.0.1:{connect_port}"))
            .stdout(stdout)
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn()?;
        let proc = WarrenProcess {
            child,
            kafka: ([127, 0, 0, 1], kafka_port).into(),
            http: ([127, 0, 0, 1], http_port).into(),
            connect: ([127, 0, 0, 1], connect_port).into(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(proc.http).is_ok() {
                return Ok(proc);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!("warren did not start listening on {}", proc.http)
    }

    pub fn bootstrap(&self) -> String {
        self.kafka.to_string()
    }

    /// SIGTERM and wait: the clean shutdown an operator's `kill` or systemd performs.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                anyhow::ensure!(status.success(), "warren exited with {status} after SIGTERM");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        anyhow::bail!("warren did not exit within 30 s of SIGTERM")
    }

    /// SIGKILL: no flush, no checkpoints, no clean-shutdown marker.
    pub fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for WarrenProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 client for the tests: one request per connection, the whole response read.
/// Returns the status code, the headers (lower-cased names) and the body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> anyhow::Result<(u16, Vec<(String, String)>, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    if let Some(body) = body {
        request.push_str(body);
    }
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(|| anyhow::anyhow!("no header end in {text:?}"))?;
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("bad status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Ok((status, headers, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
