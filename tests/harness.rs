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
    pub cluster: std::sync::Arc<broker_core::Cluster>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test warren, as TOML plus flags.
#[derive(Clone, Default)]
pub struct Options {
    pub brokers: Option<i32>,
    pub toml: String,
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

impl Warren {
    pub async fn start(data_dir: &Path, options: Options) -> anyhow::Result<Warren> {
        let flags = Flags {
            data_dir: Some(data_dir.to_path_buf()),
            kafka_listen: Some("127.0.0.1:0".into()),
            http_listen: Some("127.0.0.1:0".into()),
            brokers: options.brokers,
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
        let bound = match bound_rx.await {
            Ok(bound) => bound,
            Err(_) => {
                task.await??;
                anyhow::bail!("warren stopped before binding");
            }
        };
        Ok(Warren { kafka: bound.kafka, http: bound.http, cluster: bound.cluster, stop: Some(stop), task: Some(task) })
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
        let http_port = free_ports(1);
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
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn()?;
        let proc = WarrenProcess {
            child,
            kafka: ([127, 0, 0, 1], kafka_port).into(),
            http: ([127, 0, 0, 1], http_port).into(),
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
