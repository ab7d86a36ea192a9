# Shared by up.sh and test.sh: installs what MovieBook's build needs, each
# piece only when the right version is missing. Source it; do not run it.

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO_LEPTOS_VERSION=0.3.10
APT_UPDATED=

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else fail "need root to run: $* (install it yourself and run again)"; fi
}

apt_install() {
  command -v apt-get >/dev/null || fail "install these packages yourself: $*"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@"
}

ensure_build_tools() {
  command -v cargo >/dev/null || fail "install the Rust toolchain first: https://rustup.rs"
  command -v npm >/dev/null || apt_install nodejs npm

  step "wasm32 target"
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown

  # The wasm-bindgen CLI must match the library version pinned in Cargo.lock.
  local wb_version
  wb_version=$(grep -A1 '^name = "wasm-bindgen"$' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
  if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wb_version"; then
    step "installing wasm-bindgen-cli $wb_version (about 2 minutes, once)"
    cargo install wasm-bindgen-cli --version "$wb_version"
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 13 minutes on 2 cores, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi

  step "npm packages (Playwright, wasm-opt)"
  # npm's own copy of the lock (node_modules/.package-lock.json) is written
  # in another form, so it never equals package-lock.json: the lock the
  # packages were installed from is kept beside them instead.
  if [ ! -x "$ROOT/end2end/node_modules/.bin/wasm-opt" ] \
     || ! cmp -s "$ROOT/end2end/package-lock.json" "$ROOT/end2end/node_modules/.installed-from-lock.json"; then
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund \
      && cp package-lock.json node_modules/.installed-from-lock.json)
  fi
  # cargo-leptos takes the first wasm-opt on PATH; this one (binaryen 132)
  # must shadow Debian's older one, whose output breaks hydration.
  export PATH="$ROOT/end2end/node_modules/.bin:$PATH"
}

ensure_postgres() {
  [ -n "${DATABASE_URL:-}" ] && return
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return
  command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ] && return
  step "installing PostgreSQL"
  apt_install postgresql
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  step "installing Chromium"
  apt_install chromium
}

# A pinned Python tool from PyPI ("name==version") in its own virtualenv.
ensure_python_tool() {
  local venv=$1 requirement=$2
  "$venv/bin/pip" show "${requirement%%==*}" 2>/dev/null | grep -qx "Version: ${requirement##*==}" && return
  rm -rf "$venv"
  python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$venv"; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
}

build_release() {
  step "building MovieBook (release)"
  # The browser app's panic messages name their source files: named from the
  # crate, not by this machine's registry path, they are shorter (5 KB of
  # the first chunk) and the same wherever the app is built.
  local registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
  local remap="" index
  for index in "$registry"/*/; do
    remap+=" --remap-path-prefix=${index}="
  done
  (cd "$ROOT" && CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${remap# }" \
    cargo leptos build --release --split)
}
