#!/usr/bin/env bash
# Benchmarks (not tests); prints numbers only.
#
# - One node: bookings per second with latency percentiles (50 clients,
#   closed loop) and movie lists per second; against a bare PostgreSQL
#   insert on the same server (pgbench), with the CPU a booking costs; the
#   booking's SQL function alone (insert_own_bookings, 1, 50 and 200 per
#   call) and a replica's merge alone beside it.
# - Every replication mode on 3 nodes through the gateway: bookings per
#   second at saturation (50 clients, closed loop) and x one node from the
#   same run, p50/p99, the replication lag over the run (real time, from
#   every node's histogram), node-to-node calls per booking, copies per
#   call, replica transactions per booking, copies merged per second during
#   the load against the origin's rate; for each mode that is not strong,
#   two open-loop runs at 50% and 80% of its saturation (bookings on a fixed
#   schedule, latency from each one's scheduled instant) with their lag;
#   each node's memory (RSS) at the end of each mode.
# - A scale table: master-slave/strong and gossip/eventual on 3, 5 and 9
#   nodes. Leader failover time. The browser app's files and what each page
#   fetches. etcd and PostgreSQL replicating on this machine (anchors.sh).
# - At the end, one table side by side: one node, each mode, etcd one member
#   and three, PostgreSQL alone and under quorum commit.
#
# BENCH_QUICK=1: one node and the eight modes only (no baseline, function
# timings, scale table, anchors, failover or page weight), for quick
# iteration. BENCH_MODES: the replication modes to run (all eight by
# default), e.g. "gossip/eventual master-slave/strong".
# BENCH_SATURATION_SECONDS: how long each mode's closed-loop run lasts (10;
# 60 shows whether a node's memory stays bounded under a saturating load).
# BENCH_PORT: the first of the ports it uses (3200).
set -euo pipefail
source "$(dirname "$0")/tools.sh"
QUICK=${BENCH_QUICK:-}
SATURATION_SECONDS=${BENCH_SATURATION_SECONDS:-10}
CLUSTER_SHOWTIMES=$(( 400 * (SATURATION_SECONDS > 10 ? SATURATION_SECONDS : 10) / 10 ))
ensure_build_tools
ensure_postgres
[ -n "$QUICK" ] || ensure_chromium
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

# ---- reading moviebook-bench's lines ---------------------------------------

# The first match of sed expression $2 (one group) in file $1, or "-".
pick() {
  local found
  found=$(sed -n "s/$2/\\1/;T;p;q" "$1")
  echo "${found:--}"
}
rate_of() { pick "$1" '^POST \/api\/bookings: .* = \([0-9]*\) per second.*'; }
p50_of() { pick "$1" '^POST \/api\/bookings: .*latency p50 \([0-9.]*\) ms.*'; }
p99_of() { pick "$1" '^POST \/api\/bookings: .*latency p50 [0-9.]* ms, p99 \([0-9.]*\) ms.*'; }
# The lag line's percentiles: "p50 X ms, p99 Y ms, p99.9 Z ms, max W ms".
lag_of() { pick "$1" '^replication lag .*: \(p50 .* ms\)$'; }
lag_p99_of() { pick "$1" '^replication lag .*: p50 [0-9.]* ms, p99 \([0-9.]*\) ms.*'; }
converged_of() {
  if grep -q 'NOT converge' "$1"; then echo "NOT within 60 s"
  else pick "$1" '^replicas converged \([0-9]* ms\) after.*'; fi
}
calls_of() { pick "$1" '^node-to-node calls per booking: \([^ ]*\).*'; }
copies_per_call_of() { pick "$1" '^copies per call: \([^ ]*\).*'; }
transactions_of() { pick "$1" '^replica transactions per booking: \([^ ]*\).*'; }
merged_of() { pick "$1" '^copies merged per second during the load: \([0-9]*\) .*'; }
origin_of() { pick "$1" '^copies merged per second during the load: .*origin rate: \([0-9]*\)\/s.*'; }
dropped_of() { pick "$1" '^open loop: .* \([0-9]*\) dropped .*'; }

# ---- one node --------------------------------------------------------------

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
step "one node: load (50 clients, closed loop, 20 s)"
NODE_CPU=$(cpu_ticks "moviebook node --port $PORT"); PG_CPU=$(cpu_ticks "postgres: "); LOAD_BUSY=$(busy_ticks)
target/release/moviebook-bench load --url "http://127.0.0.1:$PORT" --list-seconds 0 | tee "$BENCH_DATA/one-node.txt"
NODE_CPU=$(( $(cpu_ticks "moviebook node --port $PORT") - NODE_CPU )); PG_CPU=$(( $(cpu_ticks "postgres: ") - PG_CPU ))
LOAD_BUSY=$(( $(busy_ticks) - LOAD_BUSY ))
target/release/moviebook-bench load --url "http://127.0.0.1:$PORT" --booking-seconds 0 | grep '^GET'
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=
ONE_NODE_RATE=$(rate_of "$BENCH_DATA/one-node.txt")
BOOKINGS=$(pick "$BENCH_DATA/one-node.txt" '^POST \/api\/bookings: \([0-9]*\) ok.*')

PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)")
if [ -z "$QUICK" ]; then
  step "baseline: pgbench, one bare single-row insert per transaction (50 clients, 10 s, same server)"
  "$PG_BIN/psql" -q "$NODE_DB" -c "CREATE TABLE bare_insert (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    showtime_id bigint NOT NULL, seat text NOT NULL, user_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
  printf '%s\n' '\set seat random(1, 1000000000)' \
    "INSERT INTO bare_insert (showtime_id, seat, user_id) VALUES (1, :seat, 'bench');" > "$BENCH_DATA/insert.sql"
  BUSY=$(busy_ticks)
  "$PG_BIN/pgbench" -n -c 50 -j 2 -T 10 -f "$BENCH_DATA/insert.sql" "$NODE_DB" 2>/dev/null | tee "$BENCH_DATA/pgbench.txt" | grep -E '^(tps|latency)'
  BUSY=$(( $(busy_ticks) - BUSY ))
  PGBENCH_RATE=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$BENCH_DATA/pgbench.txt")
  awk -v b="$ONE_NODE_RATE" -v p="$PGBENCH_RATE" 'BEGIN {
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
  # one client, with one booking per call (a node at rest), 50 and 200 (under load).
  for per_call in 1 50 200; do
    function_call "$per_call" > "$BENCH_DATA/function-$per_call.sql"
    "$PG_BIN/pgbench" -n -c 1 -T 10 -f "$BENCH_DATA/function-$per_call.sql" "$NODE_DB" 2>/dev/null > "$BENCH_DATA/function-$per_call.txt"
    awk -v n="$per_call" -v p="$PGBENCH_RATE" '/^tps/ {
      printf "%d booking(s) per call, one caller: %d bookings/s (%.2f x the bare insert)\n", n, $3 * n, $3 * n / p }' \
      "$BENCH_DATA/function-$per_call.txt"
  done

  step "a replica's merge alone (1, 50 and 200 copies per call), beside insert_own_bookings above"
  # Store::merge_replicas, as a replica calls it, on new bookings of free
  # seats (the set-based path nearly every copy takes), one call at a time.
  target/release/moviebook-bench merge --database-url "$NODE_DB" --copies-per-call 1,50,200 --seconds 10 \
    | tee "$BENCH_DATA/merge-alone.txt"
fi

# ---- clusters --------------------------------------------------------------

CLUSTER_PORT=$((PORT + 10))
# Starts `moviebook up` with $2 nodes in mode $1 on a fresh server (so no
# mode inherits another's data), and waits for a leader. 400 extra showtimes
# per node for a 10 s saturation run (room for 86,400 bookings: that run and
# both open-loop runs), and as many more for each 10 s it lasts beyond.
MODE_DATA=
start_cluster() {
  MODE_DATA="$BENCH_DATA/mode-$(date +%s%N)"
  local mode_url
  mode_url=$(target/release/moviebook db start --data-dir "$MODE_DATA" | sed -n 's/^DATABASE_URL=//p')
  for i in $(seq "$2"); do
    target/release/moviebook db prepare --database-url "$mode_url" --name "moviebook_node_$i" --extra-showtimes "$CLUSTER_SHOWTIMES" >/dev/null
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
# Each node's resident memory (VmRSS of its `moviebook node` process, a
# child of `moviebook up`).
rss_per_node() {
  local pid id kb out=()
  for pid in $(pgrep -P "$UP_PID"); do
    id=$(tr '\0' '\n' 2>/dev/null < "/proc/$pid/environ" | sed -n 's/^NODE_ID=//p') || continue
    kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
    [ -n "$id" ] && [ -n "$kb" ] && out+=("$id $((kb / 1024))")
  done
  printf '%s\n' "${out[@]}" | sort -n | awk '{ printf "%snode %d %d MB", (NR > 1 ? ", " : ""), $1, $2 }'
}
# $1 seconds of bookings through the gateway, then the wait for the
# replicas and what replication did; its output also in the file $2.
load_cluster() { # seconds file [more options of load]
  local seconds=$1 file=$2
  shift 2
  target/release/moviebook-bench load --url "http://127.0.0.1:$CLUSTER_PORT" \
    --booking-seconds "$seconds" --list-seconds 0 --converge "$@" | tee "$file"
}

MODES=${BENCH_MODES:-"master-slave/strong multi-master/strong master-slave/causal master-slave/eventual
       multi-master/causal multi-master/eventual gossip/causal gossip/eventual"}
: > "$BENCH_DATA/modes.txt"
: > "$BENCH_DATA/table.txt"
for MODE in $MODES; do
  step "replication $MODE (3 nodes, $SATURATION_SECONDS s of bookings, 50 clients, closed loop)"
  start_cluster "$MODE" 3
  SAT="$BENCH_DATA/mode-${MODE/\//-}.txt"
  load_cluster "$SATURATION_SECONDS" "$SAT"
  RATE=$(rate_of "$SAT")
  SATURATED_RSS=$(rss_per_node)
  {
    awk -v mode="$MODE" -v rate="$RATE" -v base="$ONE_NODE_RATE" -v p50="$(p50_of "$SAT")" -v p99="$(p99_of "$SAT")" \
      'BEGIN { printf "%s: %d bookings/s, %.2f x one node (%d/s); p50 %s ms, p99 %s ms\n", mode, rate, rate / base, base, p50, p99 }'
    printf '    lag %s; converged %s after the load\n' "$(lag_of "$SAT")" "$(converged_of "$SAT")"
    printf '    %s node-to-node calls per booking, %s copies per call, %s replica transactions per booking; copies merged %s/s during the load (origin %s/s)\n' \
      "$(calls_of "$SAT")" "$(copies_per_call_of "$SAT")" "$(transactions_of "$SAT")" "$(merged_of "$SAT")" "$(origin_of "$SAT")"
  } > "$BENCH_DATA/mode-summary.txt"
  printf '%s\t%s\t%s\t%s\t%s\n' "$MODE" "$RATE" "$(p50_of "$SAT")" "$(p99_of "$SAT")" "$(lag_p99_of "$SAT")" >> "$BENCH_DATA/table.txt"
  if [ "$MODE" = master-slave/strong ] && [ -z "$QUICK" ]; then
    step "movie lists through the gateway ($MODE, 50 clients, 10 s)"
    target/release/moviebook-bench load --url "http://127.0.0.1:$CLUSTER_PORT" --booking-seconds 0 | grep '^GET'
  fi
  if [ "${MODE#*/}" != strong ] && [ "${RATE:-0}" != - ] && [ "${RATE:-0}" -gt 0 ]; then
    for SHARE in 50 80; do
      OPEN_RATE=$(( RATE * SHARE / 100 ))
      [ "$OPEN_RATE" -gt 0 ] || continue
      step "replication $MODE, open loop at $SHARE% of saturation ($OPEN_RATE bookings/s, 10 s)"
      OPEN="$BENCH_DATA/open-$SHARE.txt"
      load_cluster 10 "$OPEN" --rate "$OPEN_RATE"
      printf '    open loop at %d%% (%d/s): lag %s; copies merged %s/s during the load (origin %s/s); booking p99 %s ms; %s dropped; converged %s after\n' \
        "$SHARE" "$OPEN_RATE" "$(lag_of "$OPEN")" "$(merged_of "$OPEN")" "$(origin_of "$OPEN")" "$(p99_of "$OPEN")" \
        "$(dropped_of "$OPEN")" "$(converged_of "$OPEN")" >> "$BENCH_DATA/mode-summary.txt"
    done
  fi
  printf '    memory after %d s at saturation: %s; at the end: %s\n' "$SATURATION_SECONDS" "$SATURATED_RSS" \
    "$(rss_per_node)" >> "$BENCH_DATA/mode-summary.txt"
  stop_cluster
  tee -a "$BENCH_DATA/modes.txt" < "$BENCH_DATA/mode-summary.txt"
done
step "replication modes, side by side (3 nodes)"
cat "$BENCH_DATA/modes.txt"

if [ -z "$QUICK" ]; then
  # The 3-node rows are the modes' runs above.
  : > "$BENCH_DATA/scale.txt"
  for MODE in master-slave/strong gossip/eventual; do
    SAT="$BENCH_DATA/mode-${MODE/\//-}.txt"
    printf '%-20s %2d nodes: %6s bookings/s, p99 %7s ms, lag p99 %6s ms, converged %s after\n' "$MODE" 3 \
      "$(rate_of "$SAT")" "$(p99_of "$SAT")" "$(lag_p99_of "$SAT")" "$(converged_of "$SAT")" >> "$BENCH_DATA/scale.txt"
    for NODES in 5 9; do
      step "scale: $MODE on $NODES nodes (10 s of bookings, 50 clients)"
      start_cluster "$MODE" "$NODES"
      load_cluster 10 "$BENCH_DATA/scale-run.txt"
      stop_cluster
      printf '%-20s %2d nodes: %6s bookings/s, p99 %7s ms, lag p99 %6s ms, converged %s after\n' "$MODE" "$NODES" \
        "$(rate_of "$BENCH_DATA/scale-run.txt")" "$(p99_of "$BENCH_DATA/scale-run.txt")" \
        "$(lag_p99_of "$BENCH_DATA/scale-run.txt")" "$(converged_of "$BENCH_DATA/scale-run.txt")" >> "$BENCH_DATA/scale.txt"
    done
  done
  step "scale: bookings/s, p99 and replication lag p99 by cluster size"
  cat "$BENCH_DATA/scale.txt"

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

  step "anchors: etcd and PostgreSQL replicating on this machine"
  # Whatever becomes of them, the table below is still printed.
  ANCHOR_PORT=$((PORT + 300)) ANCHOR_PG_PORT=$((PORT + 400)) scripts/anchors.sh | tee "$BENCH_DATA/anchors.txt" \
    || echo "anchors.sh failed; the table shows what it measured"
fi

step "side by side: bookings (or writes) per second against one of the same kind alone"
{
  printf '%-44s %10s %12s %9s %9s %11s\n' "" "per second" "x one alone" "p50 ms" "p99 ms" "lag p99 ms"
  printf '%-44s %10s %12s %9s %9s %11s\n' "MovieBook, one node" "$ONE_NODE_RATE" "1.00" \
    "$(p50_of "$BENCH_DATA/one-node.txt")" "$(p99_of "$BENCH_DATA/one-node.txt")" "-"
  while IFS=$'\t' read -r mode rate p50 p99 lag; do
    printf '%-44s %10s %12s %9s %9s %11s\n' "MovieBook, 3 nodes, $mode" "$rate" \
      "$(awk -v r="$rate" -v b="$ONE_NODE_RATE" 'BEGIN { if (r + 0 > 0 && b > 0) printf "%.2f", r / b; else print "-" }')" "$p50" "$p99" "$lag"
  done < "$BENCH_DATA/table.txt"
  if [ -f "$BENCH_DATA/anchors.txt" ]; then
    sed -n 's/^anchor etcd: one member \([0-9]*\) puts\/s, three members \([0-9]*\) puts\/s (\([0-9.]*\) x).*/\1 \2 \3/p' \
      "$BENCH_DATA/anchors.txt" | while read -r one three times; do
      printf '%-44s %10s %12s\n' "etcd, one member" "$one" "1.00"
      printf '%-44s %10s %12s\n' "etcd, three members (Raft)" "$three" "$times"
    done
    grep '^anchor etcd: skipped' "$BENCH_DATA/anchors.txt" || true
    sed -n 's/^anchor PostgreSQL: alone \([0-9]*\) inserts\/s, quorum commit \([0-9]*\) inserts\/s (\([0-9.]*\) x), quorum remote_apply \([0-9]*\) inserts\/s (\([0-9.]*\) x).*/\1 \2 \3 \4 \5/p' \
      "$BENCH_DATA/anchors.txt" | while read -r alone quorum times apply apply_times; do
      printf '%-44s %10s %12s\n' "PostgreSQL alone (bare insert)" "$alone" "1.00"
      printf '%-44s %10s %12s\n' "PostgreSQL, quorum commit (1 of 2)" "$quorum" "$times"
      printf '%-44s %10s %12s\n' "PostgreSQL, quorum remote_apply" "$apply" "$apply_times"
    done
    grep '^anchor PostgreSQL: skipped' "$BENCH_DATA/anchors.txt" || true
  else
    echo "(etcd and PostgreSQL anchors not run: BENCH_QUICK)"
  fi
}
