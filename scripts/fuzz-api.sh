#!/usr/bin/env bash
# Fuzzes the REST API from its own description: schemathesis (from PyPI, in
# a virtualenv under target/) reads /api/openapi.json from a real
# `moviebook up` (three nodes and the gateway, on a PostgreSQL of its own)
# and sends it generated requests, valid and invalid, through the gateway:
# anonymous, as a moviegoer, then as an operator (who may also inject
# faults, start elections and switch the replication mode). Fails on any
# 5xx (but a 503 while the operator's faults are in force), and on any
# answer whose status, content type, headers or body the description does
# not allow, or that accepts a request the description rules out.
#
# FUZZ_EXAMPLES (default 40) sets the cases per operation and phase.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

venv=target/api-fuzz
ensure_python_tool "$venv" "schemathesis==4.32.5"

port=${FUZZ_PORT:-3700}
base="http://127.0.0.1:$port"
data=target/fuzz-data
password="fuzz-operator-password"
log=target/fuzz-up.log
rm -rf "$data"
# Its own PostgreSQL (not the test run's), so the fuzzer's movies and
# bookings reach no other test.
env -u DATABASE_URL OPERATOR_PASSWORD="$password" \
  target/release/moviebook up --port "$port" --data-dir "$data" --no-rate-limit > "$log" 2>&1 &
up=$!
trap 'kill "$up" 2>/dev/null; wait "$up" 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "$base/api/movies" > /dev/null && break
  kill -0 "$up" 2>/dev/null || { cat "$log" >&2; fail "moviebook up stopped before it answered"; }
  sleep 1
done
curl -sf "$base/api/movies" > /dev/null || fail "moviebook up did not answer within 120 s (log: $log)"

token() { sed -n 's/.*"token":"\([^"]*\)".*/\1/p'; }
moviegoer=$(curl -sf -H 'Content-Type: application/json' -d '{"name":"Fuzz"}' "$base/api/sessions" | token)
operator=$(curl -sf -H 'Content-Type: application/json' \
  -d "{\"name\":\"admin\",\"password\":\"$password\"}" "$base/api/operator/session" | token)
[ -n "$moviegoer" ] && [ -n "$operator" ] || fail "could not start the fuzzer's sessions"

# Real showtimes and seat labels, offered to the generator beside its own
# values, so that requests reach the seat maps and bookings, not only 404s.
config=target/api-fuzz/schemathesis.toml
python3 - "$base" > "$config" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
get = lambda path: json.load(urllib.request.urlopen(base + path))
showtimes = [s["id"] for m in get("/api/movies") for s in get(f"/api/movies?id={m['id']}")["showtimes"]]
seats = [f"{row}{n}" for row in "ABCDEFGHIJKL" for n in range(1, 19)]
print(f"[dictionaries.showtimes]\nvalues = {json.dumps(showtimes[:40])}")
print(f"[dictionaries.seats]\nvalues = {json.dumps(seats)}")
print("[parameters]")
for key in ["query.showtimeId", "body.showtimeId"]:
    print(f'"{key}" = {{ dictionary = "showtimes", probability = 0.8 }}')
print('"body.seats[*]" = { dictionary = "seats", probability = 0.8 }')
PY
# The operator's run cuts links and skews clocks: there a 503 (no majority
# reachable now, as described) is an answer, not a fault.
operator_config=target/api-fuzz/schemathesis-operator.toml
cp "$config" "$operator_config"
printf '[checks.not_a_server_error]\nexpected-statuses = ["1XX", "2XX", "3XX", "4XX", 503]\n' >> "$operator_config"

failed=()
fuzz() {
  local who=$1 config=$2
  shift 2
  step "API fuzzing: $who"
  "$venv/bin/schemathesis" --config-file "$config" run "$base/api/openapi.json" --url "$base" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
    --max-examples "${FUZZ_EXAMPLES:-40}" --seed 20261201 --generation-database none \
    --request-timeout 20 --no-color --report junit --report-dir target/api-fuzz-report/"${who// /-}" "$@" \
    || failed+=("$who")
}

fuzz "anonymous" "$config"
fuzz "a moviegoer" "$config" -H "Authorization: Bearer $moviegoer"
# Last: an operator's faults may leave nodes cut off for a while. Not the
# gateway's process controls, though: a fuzzed kill or five-minute pause
# would leave the rest of the run talking to stopped nodes. Anonymous and
# moviegoers' calls hold them to their description (refused, in its shape).
fuzz "an operator" "$operator_config" -H "Authorization: Bearer $operator" \
  --exclude-path-regex '^/api/nodes/'

step "what the fuzzer reached: the nodes' answers by operation and status"
for node_port in $((port + 1)) $((port + 2)) $((port + 3)); do
  curl -sf "http://127.0.0.1:$node_port/metrics" || true
done | python3 -c '
import re, sys, collections
counts = collections.Counter()
for line in sys.stdin:
    m = re.match(r"moviebook_http_requests_total\{(.*)\} (\d+)", line)
    if m:
        labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(1)))
        counts[(labels["route"], labels["method"], labels["status"])] += int(m.group(2))
operations = collections.defaultdict(list)
for (route, method, status), n in sorted(counts.items()):
    if route.startswith("/api/"):
        operations[(route, method)].append(f"{status} x{n}")
for (route, method), answers in sorted(operations.items()):
    print(f"{method:7} {route:22} " + ", ".join(answers))
'

[ ${#failed[@]} -eq 0 ] || fail "the API answered outside its description (fuzzed as: ${failed[*]}); reports in target/api-fuzz-report/"
