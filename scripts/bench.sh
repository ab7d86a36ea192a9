#!/usr/bin/env bash
# Benchmarks (not tests): bookings per second with latency percentiles and
# movie list requests per second, on one node and through the gateway of a
# 3-node cluster, and for every replication mode (with the time the replicas
# take to converge and the replication lag), one node against a bare
# PostgreSQL insert (pgbench) on the same server, with the CPU a booking
# costs the node and PostgreSQL and the booking's SQL function alone
# through pgbench; gossip convergence time for 3, 5
# and 9 nodes; leader failover time; the browser app's files and what each
# page fetches before it is interactive, and again once cached. Prints
# numbers only.
set -euo pipefail
source "$(dirname "$0")/tools.sh"
ensure_build_tools
ensure_postgres
ensure_chromium
build_release
cd "$ROOT"

PORT=${BENCH_PORT:-3200}
# Under /tmp, so that the postgres user can reach it wherever the clone is.
BENCH_DATA=$(mktemp -d /tmp/moviebook-bench.XXXXXX)
chmod 755 "$BENCH_DATA"
SERVER_URL=$(target/release/moviebook db start --data-dir "$BENCH_DATA" | sed -n 's/^DATABASE_URL=//p')
NODE_PID=
UP_PID=
cleanup() {
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
  [ -n "$UP_PID" ] && kill -INT "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null
  for dir in "$BENCH_DATA"/mode-*; do
    [ -d "$dir/pg" ] && target/release/moviebook db stop --data-dir "$dir" 2>/dev/null
  done
  target/release/moviebook db stop --data-dir "$BENCH_DATA"
  rm -rf "$BENCH_DATA"
}
trap cleanup EXIT

# 800 extra showtimes in the 216-seat Grand Hall: room for 172,800 bookings.
NODE_DB=$(target/release/moviebook db prepare --database-url "$SERVER_URL" --name bench --extra-showtimes 800 | tail -1)
RUST_LOG=warn DATABASE_URL=$NODE_DB target/release/moviebook node --port "$PORT" &
NODE_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/movies" >/dev/null && break; sleep 0.2; done

# CPU time (in clock ticks) the processes whose command line matches $1
# have used so far, and the whole machine's busy ticks.
cpu_ticks() {
  local total=0 pid fields
  for pid in $(pgrep -f "$1"); do
    read -r -a fields < "/proc/$pid/stat" 2>/dev/null || continue
    total=$((total + fields[13] + fields[14]))
  done
  echo "$total"
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
TICK_MS=$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN { print 1000 / hz }')

cargo build --release --bin moviebook-bench
step "load (50 clients)"
NODE_CPU=$(cpu_ticks "moviebook node --port $PORT"); PG_CPU=$(cpu_ticks "postgres: "); LOAD_BUSY=$(busy_ticks)
target/release/moviebook-bench load --url "http://127.0.0.1:$PORT" --list-seconds 0 | tee "$BENCH_DATA/one-node.txt"
NODE_CPU=$(( $(cpu_ticks "moviebook node --port $PORT") - NODE_CPU )); PG_CPU=$(( $(cpu_ticks "postgres: ") - PG_CPU ))
LOAD_BUSY=$(( $(busy_ticks) - LOAD_BUSY ))
target/release/moviebook-bench load --url "http://127.0.0.1:$PORT" --booking-seconds 0 | grep '^GET'
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=

step "baseline: pgbench, one bare single-row insert per transaction (50 clients, 10 s, same server)"
PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)")
"$PG_BIN/psql" -q "$NODE_DB" -c "CREATE TABLE bare_insert (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  showtime_id bigint NOT NULL, seat text NOT NULL, user_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
printf '%s\n' '\set seat random(1, 1000000000)' \
  "INSERT INTO bare_insert (showtime_id, seat, user_id) VALUES (1, :seat, 'bench');" > "$BENCH_DATA/insert.sql"
BUSY=$(busy_ticks)
"$PG_BIN/pgbench" -n -c 50 -j 2 -T 10 -f "$BENCH_DATA/insert.sql" "$NODE_DB" 2>/dev/null | tee "$BENCH_DATA/pgbench.txt" | grep -E '^(tps|latency)'
BUSY=$(( $(busy_ticks) - BUSY ))
PGBENCH_RATE=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$BENCH_DATA/pgbench.txt")
BOOKING_RATE=$(sed -n 's/^POST \/api\/bookings: .* = \([0-9]*\) per second.*/\1/p' "$BENCH_DATA/one-node.txt" | head -1)
BOOKINGS=$(sed -n 's/^POST \/api\/bookings: \([0-9]*\) ok.*/\1/p' "$BENCH_DATA/one-node.txt" | head -1)
awk -v b="$BOOKING_RATE" -v p="$PGBENCH_RATE" 'BEGIN {
  printf "one node: %d bookings/s against %d bare inserts/s: %.2f of the baseline (1/%.1f; the goal is 1/4)\n", b, p, b / p, p / b }'
awk -v n="$BOOKINGS" -v node="$NODE_CPU" -v pg="$PG_CPU" -v all="$LOAD_BUSY" -v busy="$BUSY" -v inserts="$PGBENCH_RATE" -v ms="$TICK_MS" 'BEGIN {
  printf "CPU per booking: the node %.3f ms, PostgreSQL %.3f ms, everything (the load'"'"'s clients too) %.3f ms; per bare insert, everything (PostgreSQL and pgbench) %.3f ms\n",
    node * ms / n, pg * ms / n, all * ms / n, busy * ms / (inserts * 10) }'

step "the booking's SQL function alone (insert_own_bookings through pgbench, 10 s each)"
# Seats no auditorium has (five digits), so no call meets a booked seat.
"$PG_BIN/psql" -q "$NODE_DB" -c "CREATE SEQUENCE bench_seat"
SHOWTIME=$("$PG_BIN/psql" -At "$NODE_DB" -c "SELECT max(id) FROM showtimes")
# $1 bookings of one seat each per call.
function_call() {
  printf '%s\n' "SELECT count(*) FROM insert_own_bookings(
     ARRAY(SELECT gen_random_uuid() FROM generate_series(1, $1)), array_fill('bench'::TEXT, ARRAY[$1]),
     array_fill('Bench'::TEXT, ARRAY[$1]), array_fill($SHOWTIME::BIGINT, ARRAY[$1]), array_fill(1000::BIGINT, ARRAY[$1]),
     array_fill(1::BIGINT, ARRAY[$1]), array_fill('{}'::JSONB, ARRAY[$1]), array_fill('node-1'::TEXT, ARRAY[$1]),
     array_fill(now(), ARRAY[$1]), array_fill(1::BIGINT, ARRAY[$1]), array_fill('master-slave/strong'::TEXT, ARRAY[$1]),
     array_fill(1::BIGINT, ARRAY[$1]), array_fill('[]'::JSONB, ARRAY[$1]), array_fill(false, ARRAY[$1]),
     array_fill(1, ARRAY[$1]),
     ARRAY(SELECT chr(65 + (n % 26)::INT) || (10000 + n / 26) FROM (SELECT nextval('bench_seat') n FROM generate_series(1, $1)) s),
     array_fill(1000::BIGINT, ARRAY[$1]), 1);"
}
# The node calls it from one task, one call at a time (server/src/store/booking_writer.rs):
# one client, with one booking per call (a node at rest) and with 50 (under load).
for per_call in 1 50; do
  function_call "$per_call" > "$BENCH_DATA/function-$per_call.sql"
  "$PG_BIN/pgbench" -n -c 1 -T 10 -f "$BENCH_DATA/function-$per_call.sql" "$NODE_DB" 2>/dev/null > "$BENCH_DATA/function-$per_call.txt"
  awk -v n="$per_call" -v p="$PGBENCH_RATE" '/^tps/ {
    printf "%d booking(s) per call, one caller: %d bookings/s (%.2f x the bare insert)\n", n, $3 * n, $3 * n / p }' \
    "$BENCH_DATA/function-$per_call.txt"
done

step "load through the gateway of a 3-node cluster (every booking committed by a majority)"
CLUSTER_PORT=$((PORT + 10))
for i in 1 2 3; do
  target/release/moviebook db prepare --database-url "$SERVER_URL" --name "moviebook_node_$i" --extra-showtimes 250 >/dev/null
done
RUST_LOG=warn DATABASE_URL=$SERVER_URL target/release/moviebook up --port "$CLUSTER_PORT" --no-rate-limit &
UP_PID=$!
# Up once every node answers and a leader is elected.
for _ in $(seq 150); do
  curl -sf "http://127.0.0.1:$CLUSTER_PORT/api/election" | grep -q '"leader":{' && break; sleep 0.2
done
target/release/moviebook-bench load --url "http://127.0.0.1:$CLUSTER_PORT"
kill -INT "$UP_PID"; wait "$UP_PID" 2>/dev/null || true; UP_PID=

# Every replication mode, side by side, against the one node above, each on
# fresh databases (a server of its own) so no mode inherits another's data.
ONE_NODE_RATE=$(sed -n 's/^POST \/api\/bookings: .* = \([0-9]*\) per second.*/\1/p' "$BENCH_DATA/one-node.txt" | head -1)
# Starts `moviebook up` with $2 nodes in mode $1 on a fresh server, and waits
# for a leader.
MODE_DATA=
start_cluster() {
  MODE_DATA="$BENCH_DATA/mode-$(date +%s%N)"
  local mode_url
  mode_url=$(target/release/moviebook db start --data-dir "$MODE_DATA" | sed -n 's/^DATABASE_URL=//p')
  for i in $(seq "$2"); do
    target/release/moviebook db prepare --database-url "$mode_url" --name "moviebook_node_$i" --extra-showtimes 250 >/dev/null
  done
  REPLICATION=${1%/*} CONSISTENCY=${1#*/} NODES_COUNT=$2 RUST_LOG=warn DATABASE_URL=$mode_url \
    target/release/moviebook up --port "$CLUSTER_PORT" --no-rate-limit &
  UP_PID=$!
  for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$CLUSTER_PORT/api/election" | grep -q '"leader":{' && break; sleep 0.2
  done
}
stop_cluster() {
  kill -INT "$UP_PID"; wait "$UP_PID" 2>/dev/null || true; UP_PID=
  target/release/moviebook db stop --data-dir "$MODE_DATA"
}
rate_of() { sed -n 's/^POST \/api\/bookings: .* = \([0-9]*\) per second.*/\1/p' "$1"; }
for MODE in master-slave/strong multi-master/strong master-slave/causal master-slave/eventual \
            multi-master/causal multi-master/eventual gossip/causal gossip/eventual; do
  step "replication $MODE (3 nodes, 10 s of bookings)"
  start_cluster "$MODE" 3
  target/release/moviebook-bench load --url "http://127.0.0.1:$CLUSTER_PORT" \
    --booking-seconds 10 --list-seconds 0 --converge | tee "$BENCH_DATA/mode.txt"
  stop_cluster
  awk -v mode="$MODE" -v rate="$(rate_of "$BENCH_DATA/mode.txt")" -v base="$ONE_NODE_RATE" \
    'BEGIN { printf "%s: %d bookings/s, %.2f x one node (%d/s)\n", mode, rate, rate / base, base }' \
    | tee -a "$BENCH_DATA/modes.txt"
  grep -E '^POST|converged|NOT converge|^replication lag' "$BENCH_DATA/mode.txt" | sed 's/^/    /' >> "$BENCH_DATA/modes.txt"
done
step "replication modes, side by side"
cat "$BENCH_DATA/modes.txt"

for NODES in 3 5 9; do
  step "gossip convergence, $NODES nodes (gossip/eventual, 5 s of bookings)"
  start_cluster gossip/eventual "$NODES"
  target/release/moviebook-bench load --url "http://127.0.0.1:$CLUSTER_PORT" \
    --booking-seconds 5 --list-seconds 0 --converge | tee "$BENCH_DATA/gossip.txt"
  stop_cluster
  printf 'gossip, %d nodes: %s\n' "$NODES" "$(grep -E 'converged|NOT converge' "$BENCH_DATA/gossip.txt")" >> "$BENCH_DATA/gossip-sizes.txt"
done
step "gossip convergence by cluster size"
cat "$BENCH_DATA/gossip-sizes.txt"

step "leader failover (3 real nodes, 20 SIGKILLs per algorithm)"
target/release/moviebook-bench failover --database-url "$SERVER_URL" --trials 20

step "the browser app's files (release, split), raw and gzipped"
for file in target/site/pkg/*.wasm target/site/pkg/*.js; do
  printf '%-62s %5d KB raw %5d KB gzipped\n' "${file##*/}" \
    $(( $(stat -c %s "$file") / 1024 )) $(( $(gzip -9 -c "$file" | wc -c) / 1024 ))
done | sort -k2 -n -r
printf 'all WASM: %d KB raw in %d files\n' \
  $(( $(cat target/site/pkg/*.wasm | wc -c) / 1024 )) $(ls target/site/pkg/*.wasm | wc -l)

step "what each page fetches before it is interactive (each opened first, empty cache)"
start_cluster master-slave/strong 3
(cd end2end && node page-weight.mjs "http://127.0.0.1:$CLUSTER_PORT")
stop_cluster
