#!/usr/bin/env bash
# Installs what the tests need (the rotel OTLP collector, from PyPI, into a venv under
# target/) and runs every test: formatting, clippy, rustdoc (broken links), the full suite
# with all features (the end-to-end tests against the real collector included), and the
# suite without default features (console + in-memory only).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${OTLP_SDK_VENV:-$PWD/target/rotel-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# rotel publishes only pre-releases; pin the one the tests were written against.
"$venv/bin/pip" install --quiet --disable-pip-version-check "rotel==0.0.1a15"
ROTEL_AGENT="$("$venv/bin/python" -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))')"
if [ ! -x "$ROTEL_AGENT" ]; then
  echo "rotel-agent not found at $ROTEL_AGENT" >&2
  exit 1
fi
export ROTEL_AGENT
echo "using rotel collector: $ROTEL_AGENT ($("$ROTEL_AGENT" --version))"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features
cargo test --workspace --all-features
cargo test --no-default-features --lib --tests
