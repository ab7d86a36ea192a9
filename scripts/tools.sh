# Shared by up.sh and test.sh: installs what MovieBook's build needs, each
# piece only when the right version is missing. Source it; do not run it.

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

  step "npm packages (Playwright; wasm-opt and esbuild for the build)"
  # npm's own copy of the lock (node_modules/.package-lock.json) is written
  # in another form, so it never equals package-lock.json: the lock the
  # packages were installed from is kept beside them instead.
  if [ ! -x "$ROOT/end2end/node_modules/.bin/wasm-opt" ] \
     || ! cmp -s "$ROOT/end2end/package-lock.json" "$ROOT/end2end/node_modules/.installed-from-lock.json"; then
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund \
      && cp package-lock.json node_modules/.installed-from-lock.json)
  fi
  # This wasm-opt (binaryen 132) must shadow Debian's older one, whose
  # output breaks hydration.
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

# The release build: the browser app as WASM, split at its lazy routes,
# bound to JS and optimised, into target/site/pkg with the styles and the
# public files; then the server, which serves that site.
build_release() {
  step "building MovieBook (release)"
  local site="$ROOT/target/site" pkg="$ROOT/target/site/pkg"
  local wasm_dir="$ROOT/target/wasm32-unknown-unknown/wasm-release"
  # The browser app's panic messages name their source files: named from the
  # crate, not by this machine's registry path, they are shorter (5 KB of
  # the first chunk) and the same wherever the app is built. The splitter
  # needs the linker's relocations.
  # `cargo metadata` fetches and unpacks the sources first, so on a fresh
  # machine too the registry's folders are there to name.
  (cd "$ROOT" && cargo metadata --format-version 1 >/dev/null)
  local registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
  local wasm_flags="-Clink-args=--emit-relocs" index
  for index in "$registry"/*/; do
    wasm_flags+=" --remap-path-prefix=${index}="
  done
  (cd "$ROOT" \
    && CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$wasm_flags" \
       cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release \
    && cargo build --release -p site -p moviebook --bin build-site --bin moviebook)

  # The package is made again only from another WebAssembly, build-site or
  # npm tools than it was made from: optimising takes a minute.
  local made_from stamp="$ROOT/target/site-made-from"
  made_from=$(cat "$wasm_dir/frontend.wasm" "$ROOT/target/release/build-site" \
    "$ROOT/end2end/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [ ! -f "$pkg/moviebook.wasm" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$made_from" ]; then
    step "the browser app: split, bound to JS, optimised, into target/site"
    rm -rf "$pkg"
    mkdir -p "$pkg"
    "$ROOT/target/release/build-site" "$wasm_dir/frontend.wasm" "$pkg" moviebook
    find "$pkg" -name '*.wasm' -print0 | xargs -0 -P "$(nproc)" -I{} \
      wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int {} -o {}
    # The JS every page loads first, minified.
    esbuild --minify --log-level=error --allow-overwrite "$pkg/moviebook.js" \
      --outfile="$pkg/moviebook.js"
    echo "$made_from" > "$stamp"
  fi
  esbuild --minify --log-level=error "$ROOT/style/main.css" --outfile="$pkg/moviebook.css"
  cp -r "$ROOT/public/." "$site/"
}
