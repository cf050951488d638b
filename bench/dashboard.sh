#!/usr/bin/env bash
# Dashboard and /metrics latency with wrk on loopback, against bench/dashboard.rs (10,000
# partitions, 1,000 groups, 7 days of history). Prints wrk's latency distribution per page.
#   bench/dashboard.sh [seconds-per-page]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PAGE=${1:-15}
cargo build --release -p warren-bench --bin dashboard >/dev/null 2>&1 || cargo build --release -p warren-bench --bin dashboard
port=18099
target/release/dashboard --port $port 2>/tmp/warren-dashboard-bench.log &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
until grep -q "serving on" /tmp/warren-dashboard-bench.log 2>/dev/null; do sleep 1; done
grep history /tmp/warren-dashboard-bench.log
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
pages=${PAGES:-"/?cluster=bench /brokers?cluster=bench /topics?cluster=bench /topics/big?cluster=bench /topics/topic-0001?cluster=bench /groups?cluster=bench /groups/big-group?cluster=bench /groups/big-group?cluster=bench&range=7d /metrics"}
for page in $pages; do
  echo "== $page"
  wrk -t1 -c2 -d${SECONDS_PER_PAGE}s --latency "http://127.0.0.1:$port$page" | grep -E "Latency|50%|99%|Requests/sec"
done
echo "server peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
