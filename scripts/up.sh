#!/usr/bin/env bash
# Runs the whole MovieBook system on this machine: builds it (installing what
# the build needs the first time), then `moviebook up`. Extra arguments go to
# `moviebook up` (see `target/release/moviebook up --help`).
set -euo pipefail
source "$(dirname "$0")/tools.sh"
ensure_build_tools
ensure_postgres
build_release
cd "$ROOT"
exec target/release/moviebook up "$@"
