//! A real webhook receiver for the tests: an axum server on loopback that records every request
//! (headers and exact body bytes) and answers from a script (200 when the script is empty, or a
//! given status, a 429/503 with `Retry-After`, or a hang until released). It can be stopped and
//! started again on the same port, so a sender sees connection refused in between.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinHandle;

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with a `Retry-After: <seconds>` header.
    RetryAfter(u16, u64),
    /// A status with a text body.
    Body(u16, &'static str),
    /// No answer until [`TestReceiver::release`] (or 30 s).
    Hang,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
    count: watch::Sender<usize>,
    release: Notify,
}

pub struct TestReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl TestReceiver {
    pub async fn start() -> TestReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let mut receiver = TestReceiver { addr, shared: Arc::default(), server: None };
        receiver.serve(listener);
        receiver
    }

    fn serve(&mut self, listener: TcpListener) {
        let app = Router::new().route("/{*path}", post(hook)).with_state(Arc::clone(&self.shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let graceful = async move {
                let _ = stopped.await;
            };
            axum::serve(listener, app).with_graceful_shutdown(graceful).await.expect("test receiver serves");
        });
        self.server = Some((stop, task));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// Queues answers for the next requests (after them: 200).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().expect("script lock").extend(replies);
    }

    /// Lets every hanging request answer 200.
    pub fn release(&self) {
        self.shared.release.notify_waiters();
    }

    /// Stops listening (new connections are refused) and closes idle connections.
    pub async fn stop(&mut self) {
        if let Some((stop, mut task)) = self.server.take() {
            let _ = stop.send(());
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                task.abort();
            }
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("bind the same port again");
        self.serve(listener);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("received lock").clone()
    }

    /// Waits (up to 10 s) until at least `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let mut count = self.shared.count.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(10), count.wait_for(|c| *c >= n)).await;
        assert!(waited.is_ok(), "expected {n} requests, got {}", self.received().len());
        self.received()
    }
}

async fn hook(State(shared): State<Arc<Shared>>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let reply = shared.script.lock().expect("script lock").pop_front().unwrap_or(Reply::Status(200));
    let released = shared.release.notified();
    shared.received.lock().expect("received lock").push(Received {
        at: Instant::now(),
        path: uri.path().to_string(),
        headers,
        body,
    });
    shared.count.send_modify(|c| *c += 1);
    let status = |code: u16| StatusCode::from_u16(code).expect("a valid status");
    match reply {
        Reply::Status(code) => status(code).into_response(),
        Reply::RetryAfter(code, seconds) => (status(code), [("retry-after", seconds.to_string())]).into_response(),
        Reply::Body(code, text) => (status(code), text).into_response(),
        Reply::Hang => {
            let _ = tokio::time::timeout(Duration::from_secs(30), released).await;
            StatusCode::OK.into_response()
        }
    }
}
