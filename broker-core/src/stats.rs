//! Request statistics of the embedded brokers, for `/metrics`: requests and latency by API,
//! error codes returned by API, bytes in and out by broker. Plain atomics, bumped on the request
//! path without locks; `server` turns them into Prometheus series. This crate has no metrics
//! dependency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the request latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Kafka API keys are below this.
const APIS: usize = 80;

#[derive(Debug, Default)]
struct ApiStats {
    requests: AtomicU64,
    /// Cumulative counts per bucket of `LATENCY_BUCKETS`, then +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_micros: AtomicU64,
}

#[derive(Debug, Default)]
pub struct BrokerTraffic {
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub connections: AtomicU64,
}

/// Statistics of one cluster.
#[derive(Debug)]
pub struct Stats {
    apis: Vec<ApiStats>,
    brokers: Vec<BrokerTraffic>,
    /// (api key, error code) -> count; errors are rare, a lock is fine.
    errors: Mutex<std::collections::BTreeMap<(i16, i16), u64>>,
    /// SASL mechanism -> failed authentications.
    auth_failures: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

/// One API's numbers at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSnapshot {
    pub api_key: i16,
    pub requests: u64,
    /// Cumulative bucket counts, one per `LATENCY_BUCKETS` entry.
    pub buckets: Vec<u64>,
    pub latency_seconds_sum: f64,
}

impl Stats {
    pub fn new(brokers: usize) -> Stats {
        Stats {
            apis: (0..APIS).map(|_| ApiStats::default()).collect(),
            brokers: (0..brokers).map(|_| BrokerTraffic::default()).collect(),
            errors: Mutex::new(Default::default()),
            auth_failures: Mutex::new(Default::default()),
        }
    }

    /// Counts one request of `api_key` that took `took`.
    pub fn request(&self, api_key: i16, took: Duration) {
        let Some(api) = usize::try_from(api_key).ok().and_then(|k| self.apis.get(k)) else {
            return;
        };
        api.requests.fetch_add(1, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(LATENCY_BUCKETS.len());
        api.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        api.latency_micros.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Counts an error code answered for `api_key` (per partition for partitioned APIs).
    pub fn error(&self, api_key: i16, code: i16) {
        if code != 0 {
            *self.errors.lock().unwrap_or_else(|e| e.into_inner()).entry((api_key, code)).or_default() += 1;
        }
    }

    /// Counts a failed SASL authentication.
    pub fn auth_failure(&self, mechanism: &'static str) {
        *self.auth_failures.lock().unwrap_or_else(|e| e.into_inner()).entry(mechanism).or_default() += 1;
    }

    /// Failed authentications by mechanism.
    pub fn auth_failures(&self) -> Vec<(&'static str, u64)> {
        self.auth_failures.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (*k, *v)).collect()
    }

    pub fn broker(&self, id: i32) -> Option<&BrokerTraffic> {
        usize::try_from(id - 1).ok().and_then(|i| self.brokers.get(i))
    }

    /// Every API that has served a request.
    pub fn apis(&self) -> Vec<ApiSnapshot> {
        self.apis
            .iter()
            .enumerate()
            .filter(|(_, a)| a.requests.load(Ordering::Relaxed) > 0)
            .map(|(key, a)| {
                let mut cumulative = 0;
                let buckets = a.buckets[..LATENCY_BUCKETS.len()]
                    .iter()
                    .map(|b| {
                        cumulative += b.load(Ordering::Relaxed);
                        cumulative
                    })
                    .collect();
                ApiSnapshot {
                    api_key: key as i16,
                    requests: a.requests.load(Ordering::Relaxed),
                    buckets,
                    latency_seconds_sum: a.latency_micros.load(Ordering::Relaxed) as f64 / 1e6,
                }
            })
            .collect()
    }

    pub fn errors(&self) -> Vec<((i16, i16), u64)> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (*k, *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let stats = Stats::new(1);
        stats.request(0, Duration::from_micros(300));
        stats.request(0, Duration::from_millis(3));
        stats.request(0, Duration::from_secs(9));
        stats.request(999, Duration::from_secs(1));
        let apis = stats.apis();
        assert_eq!(apis.len(), 1);
        assert_eq!(apis[0].requests, 3);
        assert_eq!(apis[0].buckets[0], 1, "<= 0.5 ms");
        assert_eq!(apis[0].buckets[3], 2, "<= 5 ms");
        assert_eq!(*apis[0].buckets.last().expect("buckets"), 2, "9 s is only in +Inf");
        stats.error(0, 0);
        stats.error(0, 6);
        stats.error(0, 6);
        assert_eq!(stats.errors(), vec![((0, 6), 2)]);
    }
}
