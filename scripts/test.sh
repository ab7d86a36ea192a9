#!/usr/bin/env bash
# Runs every MovieBook test: unit and integration tests against a throwaway
# PostgreSQL, then the Playwright end-to-end tests in Chromium against a real
# `moviebook up`. Installs what it needs the first time.
set -euo pipefail
source "$(dirname "$0")/tools.sh"

step "docs: every relative link and image in README.md and docs/"
python3 "$ROOT/scripts/check-docs.py"

step "imports: no cycle between modules, every import in server/src pointing down its layers"
python3 "$ROOT/scripts/check-imports.py"

ensure_build_tools
ensure_postgres
ensure_chromium
build_release
cd "$ROOT"

step "throwaway PostgreSQL for the tests"
if [ -z "${DATABASE_URL:-}" ]; then
  # Under /tmp, so that the postgres user can reach it wherever the clone is.
  TEST_DATA=$(mktemp -d /tmp/moviebook-test.XXXXXX)
  chmod 755 "$TEST_DATA"
  DATABASE_URL=$(target/release/moviebook db start --data-dir "$TEST_DATA" | sed -n 's/^DATABASE_URL=//p')
  trap 'target/release/moviebook db stop --data-dir "$TEST_DATA"; rm -rf "$TEST_DATA"' EXIT
fi
export DATABASE_URL

step "unit and integration tests"
cargo test --release -p app -p cluster -p moviebook

step "the nemesis: faults through the API under load, history checked (all eight modes)"
# A fresh `moviebook up` per mode takes bookings and cancellations through
# its gateway while the fault API kills and restarts the leader, cuts off a
# minority, cuts the leader from a follower, pauses a node, skews a clock,
# makes links lossy and kills a follower; then heals through the API. Exits
# non-zero if a fault is left, an acknowledged booking is not kept, a seat
# is acknowledged twice (strong), a 5xx other than 503 is answered or the
# replicas end different. Timelines: target/nemesis/*.html.
for MODE in master-slave/strong multi-master/strong master-slave/causal master-slave/eventual \
            multi-master/causal multi-master/eventual gossip/causal gossip/eventual; do
  target/release/moviebook-bench nemesis --mode "$MODE" --seconds 15
done

step "deploy/: Kubernetes manifests against their schemas, the pods' start script"
./scripts/check-deploy.sh

step "the REST API against its OpenAPI description (schemathesis, a real cluster)"
./scripts/fuzz-api.sh

step "end-to-end tests (Playwright, Chromium)"
# `moviebook up` creates its node databases on the throwaway server.
(cd end2end && npx playwright test)
step "all tests passed"
