#!/usr/bin/env bash
# What replication costs two mature stores on this machine, the figures a
# MovieBook cluster is held to (DESIGN.md, "What replication may cost"):
#
# - etcd (Debian's etcd-server and etcd-client, installed if missing): one
#   member alone, then three members (Raft) on loopback, each loaded by
#   `etcdctl check perf --load=xl` (1,000 clients, up to 15,000 puts/s,
#   60 s); its report gives the puts per second it reached.
# - PostgreSQL: one server alone, then a primary with two streaming standbys
#   under quorum commit (`ANY 1 (s1, s2)`: a majority of three holds each
#   commit), first flushed (`synchronous_commit = on`), then applied
#   (`remote_apply`: a majority can read it). Each loaded as
#   scripts/bench.sh loads its baseline: pgbench, one bare single-row insert
#   per transaction, 50 clients, ANCHOR_SECONDS (10) s each.
#
# Prints each run, then one line per store that scripts/bench.sh reads:
#   anchor etcd: one member N puts/s, three members M puts/s (R x)
#   anchor PostgreSQL: alone N inserts/s, quorum commit M inserts/s (R x), quorum remote_apply K inserts/s (R x)
# or `anchor etcd: skipped (why)`. Needs root (apt-get, runuser). About 4
# minutes.
set -uo pipefail
source "$(dirname "$0")/tools.sh"

SECONDS_EACH=${ANCHOR_SECONDS:-10}
# Under /tmp and the postgres user's, so that its servers can live there.
WORK=$(mktemp -d /tmp/moviebook-anchors.XXXXXX)
chown postgres "$WORK"
chmod 755 "$WORK"
PIDS=()
PG_DIRS=()
PG=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)")
as_postgres() { runuser -u postgres -- "$@"; }
cleanup() {
  local pid dir
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for dir in "${PG_DIRS[@]}"; do as_postgres "$PG/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The first port from $1 up that nothing listens on.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

# ---- etcd ----------------------------------------------------------------

etcd_member() { # name client-port peer-port initial-cluster
  etcd --name "$1" --data-dir "$WORK/etcd-$1" \
    --listen-client-urls "http://127.0.0.1:$2" --advertise-client-urls "http://127.0.0.1:$2" \
    --listen-peer-urls "http://127.0.0.1:$3" --initial-advertise-peer-urls "http://127.0.0.1:$3" \
    --initial-cluster "$4" --initial-cluster-state new --initial-cluster-token "anchor-$$" \
    --logger zap --log-level error > "$WORK/etcd-$1.log" 2>&1 &
  PIDS+=($!)
}
# The puts per second `check perf` reached against the endpoints $1.
etcd_perf() {
  local _
  for _ in $(seq 50); do
    ETCDCTL_API=3 etcdctl --endpoints "$1" endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  ETCDCTL_API=3 etcdctl --endpoints "$1" check perf --load=xl 2>&1 | tr '\r' '\n' \
    | grep -E 'PASS|FAIL|writes/s|Slowest' | tail -4 | tee "$WORK/perf.txt" | sed 's/^/    /' >&2
  awk '/writes\/s/ { for (i = 1; i < NF; i++) if ($(i + 1) == "writes/s") print $i }' "$WORK/perf.txt" | tail -1
}
etcd_stop() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  PIDS=()
}

etcd_anchor() {
  if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
    step "installing etcd (Debian's etcd-server and etcd-client)" >&2
    # In a subshell: apt_install exits when it fails, and a missing etcd
    # only skips this anchor.
    (apt_install etcd-server etcd-client) > "$WORK/apt.log" 2>&1 || tail -5 "$WORK/apt.log" >&2
  fi
  if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
    echo "anchor etcd: skipped (etcd-server and etcd-client could not be installed)"
    return
  fi
  local c1 p1 one three cluster ports=() port=$((${ANCHOR_PORT:-2479}))
  c1=$(free_port "$port"); p1=$(free_port $((c1 + 1)))
  step "etcd, one member (etcdctl check perf --load=xl, 60 s)" >&2
  etcd_member solo "$c1" "$p1" "solo=http://127.0.0.1:$p1"
  one=$(etcd_perf "http://127.0.0.1:$c1")
  etcd_stop
  port=$((p1 + 1))
  for _ in 1 2 3 4 5 6; do port=$(free_port "$port"); ports+=("$port"); port=$((port + 1)); done
  cluster="a=http://127.0.0.1:${ports[1]},b=http://127.0.0.1:${ports[3]},c=http://127.0.0.1:${ports[5]}"
  step "etcd, three members (Raft; etcdctl check perf --load=xl, 60 s)" >&2
  etcd_member a "${ports[0]}" "${ports[1]}" "$cluster"
  etcd_member b "${ports[2]}" "${ports[3]}" "$cluster"
  etcd_member c "${ports[4]}" "${ports[5]}" "$cluster"
  three=$(etcd_perf "http://127.0.0.1:${ports[0]},http://127.0.0.1:${ports[2]},http://127.0.0.1:${ports[4]}")
  etcd_stop
  if [ -n "$one" ] && [ -n "$three" ]; then
    awk -v a="$one" -v b="$three" 'BEGIN {
      printf "anchor etcd: one member %d puts/s, three members %d puts/s (%.2f x)\n", a, b, b / a }'
  else
    echo "anchor etcd: skipped (check perf reported no rate; logs were in $WORK)"
  fi
}

# ---- PostgreSQL ----------------------------------------------------------

# pgbench's transactions per second on the primary.
pg_insert_rate() {
  "$PG/pgbench" -n -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -c 50 -j 2 -T "$SECONDS_EACH" \
    -f "$WORK/insert.sql" postgres 2>/dev/null | sed -n 's/^tps = \([0-9]*\).*/\1/p'
}
pg_commit_mode() { # synchronous_standby_names synchronous_commit
  "$PG/psql" -q -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres postgres \
    -c "ALTER SYSTEM SET synchronous_standby_names = '$1'" \
    -c "ALTER SYSTEM SET synchronous_commit = '$2'" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1
}

pg_anchor() {
  [ -x "$PG/pgbench" ] || { echo "anchor PostgreSQL: skipped (no pgbench)"; return; }
  local primary="$WORK/pg-primary" alone quorum apply standby port
  PRIMARY_PORT=$(free_port "${ANCHOR_PG_PORT:-5601}")
  as_postgres "$PG/initdb" -D "$primary" -U postgres --auth=trust >/dev/null
  PG_DIRS+=("$primary")
  cat >> "$primary/postgresql.conf" <<EOF
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
wal_level = replica
max_wal_senders = 10
EOF
  echo "host replication all 127.0.0.1/32 trust" >> "$primary/pg_hba.conf"
  as_postgres "$PG/pg_ctl" -D "$primary" -l "$WORK/pg-primary.log" -w start >/dev/null
  "$PG/psql" -q -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres postgres -c "CREATE TABLE bare_insert (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), showtime_id bigint NOT NULL, seat text NOT NULL,
    user_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
  printf '%s\n' '\set seat random(1, 1000000000)' \
    "INSERT INTO bare_insert (showtime_id, seat, user_id) VALUES (1, :seat, 'bench');" > "$WORK/insert.sql"
  chmod 644 "$WORK/insert.sql"

  step "PostgreSQL alone (pgbench, bare insert, 50 clients, $SECONDS_EACH s)" >&2
  alone=$(pg_insert_rate); echo "    $alone inserts/s" >&2
  port=$PRIMARY_PORT
  for standby in s1 s2; do
    port=$(free_port $((port + 1)))
    # A fast checkpoint: the default spread one makes each copy wait minutes.
    as_postgres "$PG/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$WORK/pg-$standby" -R -X stream \
      --checkpoint=fast >/dev/null
    printf "port = %s\nprimary_conninfo = 'host=127.0.0.1 port=%s user=postgres application_name=%s'\n" \
      "$port" "$PRIMARY_PORT" "$standby" >> "$WORK/pg-$standby/postgresql.auto.conf"
    as_postgres "$PG/pg_ctl" -D "$WORK/pg-$standby" -l "$WORK/pg-$standby.log" -w start >/dev/null
    PG_DIRS+=("$WORK/pg-$standby")
  done
  sleep 2
  step "PostgreSQL, two standbys, quorum commit ANY 1 of 2, flushed ($SECONDS_EACH s)" >&2
  pg_commit_mode 'ANY 1 (s1, s2)' on
  quorum=$(pg_insert_rate); echo "    $quorum inserts/s" >&2
  step "PostgreSQL, two standbys, quorum commit ANY 1 of 2, remote_apply ($SECONDS_EACH s)" >&2
  pg_commit_mode 'ANY 1 (s1, s2)' remote_apply
  apply=$(pg_insert_rate); echo "    $apply inserts/s" >&2
  if [ -n "$alone" ] && [ -n "$quorum" ] && [ -n "$apply" ]; then
    awk -v a="$alone" -v q="$quorum" -v r="$apply" 'BEGIN {
      printf "anchor PostgreSQL: alone %d inserts/s, quorum commit %d inserts/s (%.2f x), quorum remote_apply %d inserts/s (%.2f x)\n",
        a, q, q / a, r, r / a }'
  else
    echo "anchor PostgreSQL: skipped (pgbench reported no rate; logs were in $WORK)"
  fi
}

etcd_anchor
pg_anchor
