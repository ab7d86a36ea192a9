#!/usr/bin/env bash
# Benchmarks (not tests): bookings per second with latency percentiles, movie
# list requests per second, and the release WASM size. Prints numbers only.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
ensure_build_tools
ensure_postgres
build_release
cd "$ROOT"

PORT=${BENCH_PORT:-3200}
# Under /tmp, so that the postgres user can reach it wherever the clone is.
BENCH_DATA=$(mktemp -d /tmp/moviebook-bench.XXXXXX)
chmod 755 "$BENCH_DATA"
SERVER_URL=$(target/release/moviebook db start --data-dir "$BENCH_DATA" | sed -n 's/^DATABASE_URL=//p')
NODE_PID=
cleanup() {
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
  target/release/moviebook db stop --data-dir "$BENCH_DATA"
  rm -rf "$BENCH_DATA"
}
trap cleanup EXIT

# 250 extra showtimes in the 216-seat Grand Hall: room for 54,000 bookings.
NODE_DB=$(target/release/moviebook db prepare --database-url "$SERVER_URL" --name bench --extra-showtimes 250 | tail -1)
RUST_LOG=warn DATABASE_URL=$NODE_DB target/release/moviebook node --port "$PORT" &
NODE_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/movies" >/dev/null && break; sleep 0.2; done

cargo build --release --bin moviebook-bench
step "load (50 clients)"
target/release/moviebook-bench load --url "http://127.0.0.1:$PORT"

step "leader failover (3 real nodes, 20 SIGKILLs per algorithm)"
target/release/moviebook-bench failover --database-url "$SERVER_URL" --trials 20

step "release WASM size"
WASM=target/site/pkg/moviebook.wasm
printf 'moviebook.wasm: %d KB raw, %d KB gzipped\n' \
  $(( $(stat -c %s "$WASM") / 1024 )) $(( $(gzip -9 -c "$WASM" | wc -c) / 1024 ))
