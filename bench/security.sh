#!/usr/bin/env bash
# What TLS and SASL cost: produce of 1 KiB records, acks=1, RF 1, 1 and 6 partitions, with
# librdkafka's rdkafka_performance against a release warren over PLAINTEXT and over SASL_SSL
# (TLS 1.3 + SCRAM-SHA-512, certificates made here with openssl), alternating ROUNDS times and
# reporting each run and the medians.
#   bench/security.sh [records] [rounds]     (defaults: 1,000,000 x 1 KiB, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${2:-3}
. bench/perf_driver.sh

dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
(
  cd "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext
) >/dev/null 2>&1
cat > "$dir/sasl_ssl.toml" <<TOML
[security]
protocol = "SASL_SSL"
ssl_certificate = "$dir/server.pem"
ssl_key = "$dir/server.key"
super_users = ["bench"]
[[security.users]]
name = "bench"
password = "bench-password"
TOML
cat > "$dir/admin.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.username=bench
sasl.password=bench-password
ssl.ca.location=$dir/ca.pem
PROPS
: > "$dir/plaintext.toml"
: > "$dir/plaintext.properties"
sasl_flags=(-X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=bench
  -X sasl.password=bench-password -X "ssl.ca.location=$dir/ca.pem")

port=49492
B=127.0.0.1:$port
rate() { grep -oE "[0-9]+ msgs/s" | head -1 | grep -oE "[0-9]+"; }
# run MODE PARTITIONS: one fresh warren, one topic, one produce run; prints records/s and, on
# stderr, the CPU seconds each side spent (client user+system, warren user+system).
run() {
  local mode=$1 parts=$2 data="$dir/data-$1-$2-$RANDOM" props flags=()
  props="$dir/$mode.properties"; [ "$mode" = sasl_ssl ] && props="$dir/admin.properties" && flags=("${sasl_flags[@]}")
  RUST_LOG=warn target/release/warren --config "$dir/$mode.toml" --data-dir "$data" --kafka-listen $B \
    --http-listen 127.0.0.1:0 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    target/release/warren topics --bootstrap-server $B --command-config "$props" --list >/dev/null 2>&1 && break
    sleep 0.2
  done
  target/release/warren topics --bootstrap-server $B --command-config "$props" --create --topic t \
    --partitions "$parts" --replication-factor 1 >/dev/null
  local w0 w1 r
  w0=$(awk '{print $14 + $15}' /proc/$pid/stat)
  r=$(/usr/bin/time -f "%U %S" -o "$dir/client.time" \
    "$perf" -P -t t -s 1024 -c "$N" -b $B -X linger.ms=5 -X batch.size=1000000 -a 1 -q "${flags[@]}" 2>&1 | rate)
  w1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  echo "$r"
  awk -v m="$mode" -v p="$parts" -v r="$r" -v w=$((w1 - w0)) '{printf "  %s p=%s: %s rec/s, client CPU %.2f s, warren CPU %.2f s\n", m, p, r, $1 + $2, w / 100}' \
    "$dir/client.time" >&2
  kill $pid; wait $pid 2>/dev/null || true; pid=
  rm -rf "$data"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $machine"
echo "produce $N x 1 KiB, acks=1, RF 1, $ROUNDS rounds (records/s)"
for parts in 1 6; do
  plain=() secure=()
  for ((r = 0; r < ROUNDS; r++)); do
    plain+=("$(run plaintext "$parts")")
    secure+=("$(run sasl_ssl "$parts")")
  done
  p=$(echo "${plain[*]}" | median); s=$(echo "${secure[*]}" | median)
  printf 'p=%s  PLAINTEXT %-26s SASL_SSL %-26s median SASL_SSL/PLAINTEXT %s%%\n' "$parts" "${plain[*]}" "${secure[*]}" \
    "$((s * 100 / p))"
done
