# Sourced by the benchmark scripts: builds warren and librdkafka's rdkafka_performance (from the
# sources rdkafka-sys bundles, with the OpenSSL it was built against) and sets $perf.
cargo build --release -p server -p warren-bench >/dev/null 2>&1 || cargo build --release -p server -p warren-bench
perf=target/release/rdkafka_performance
if [ ! -x "$perf" ] || [ "$perf" -ot Cargo.lock ]; then
  out=$(ls -d target/release/build/rdkafka-sys-*/out | head -1)
  zstd=$(find target/release/build -name libzstd.a | head -1)
  gcc -O2 -o "$perf" "$out/examples/rdkafka_performance.c" -I"$out/src" "$out/src/librdkafka.a" "$zstd" \
    -lssl -lcrypto -lz -lpthread -lm -ldl
fi
machine="$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
