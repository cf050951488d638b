#!/usr/bin/env bash
# Throughput with librdkafka's own C benchmark driver (rdkafka_performance, built from the
# librdkafka sources that rdkafka-sys bundles) against a release warren on loopback: produce and
# consume of 100 B and 1 KiB records, acks=1 (RF 1) and acks=all (RF 3), 1 and 6 partitions.
# Prints one line per scenario and the broker's peak resident memory.
#   bench/rdkafka_performance.sh [records-of-100B]   (1 KiB runs use a third)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000000}
. bench/perf_driver.sh

dir=$(mktemp -d)
port=49392
RUST_LOG=warn target/release/warren --data-dir "$dir" --kafka-listen 127.0.0.1:$port --http-listen 127.0.0.1:0 >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1
B=127.0.0.1:$port
admin() { target/release/bench_admin "$B" "$@"; }
rate() { grep -oE "[0-9]+ msgs/s( and|) \(?[0-9.]+ MB/s" | head -1; }

echo "machine: $machine"
for size in 100 1024; do
  n=$N; [ $size = 1024 ] && n=$((N / 3))
  for mode in "1 1" "all 3"; do
    set -- $mode; acks=$1; rf=$2
    for parts in 1 6; do
      t="perf-$size-$acks-$parts"
      admin create "$t" "$parts" "$rf"
      a=$acks; [ $acks = all ] && a=-1
      p=$("$perf" -P -t "$t" -s $size -c $n -b $B -X linger.ms=5 -X batch.size=1000000 -a $a -q 2>&1 | rate)
      # One consumer per partition in turn, each reading exactly what its partition holds.
      msgs=0; ms=0
      for ((k = 0; k < parts; k++)); do
        hw=$(admin high-watermark "$t" $k)
        [ "$hw" -gt 0 ] || continue
        line=$("$perf" -C -t "$t" -p $k -o beginning -c "$hw" -b $B -q -X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=10485760 2>&1 | grep consumed)
        msgs=$((msgs + hw)); ms=$((ms + $(echo "$line" | grep -oE "in [0-9]+ms" | grep -oE "[0-9]+")))
      done
      c="$((msgs * 1000 / (ms > 0 ? ms : 1))) msgs/s and $((msgs * size / 1000 / (ms > 0 ? ms : 1))) MB/s"
      printf '%-6s acks=%-3s rf=%s p=%s  produce %-30s consume %s\n' "${size}B" $acks $rf $parts "$p" "$c"
    done
  done
done
echo "broker peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
