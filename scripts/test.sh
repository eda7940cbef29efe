#!/usr/bin/env bash
# Installs what the tests need (the rotel OTLP collector, from PyPI, into a venv under
# target/) and runs every test: formatting, clippy, rustdoc (broken links), the full suite
# with all features (the end-to-end tests against the real collector included), the suite
# without default features (console + in-memory only), and a time-boxed fuzzing run of the
# header parsers, and Miri over the unsafe code it can run (span_rc, attributes, slot,
# Span::end, the span record pool; not pipeline::cpu's libc calls or pipeline::prefetch) and
# the trace API built on it.
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

# A clean CI checkout builds once: incremental compilation's caches (1.6 GB here) would only
# cost time and disk.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi
echo "using rotel collector: $ROTEL_AGENT ($("$ROTEL_AGENT" --version))"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features
# Without the exporters too: links to feature-gated items break there.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --no-default-features

# Fuzz the W3C header parsers (traceparent, tracestate, baggage) for a fixed time budget with
# cargo-fuzz/libFuzzer, starting from the corpus kept in fuzz/corpus/headers. `-s none`: no
# sanitizer runtime is needed (the parsers are safe code; the library's unsafe code is
# checked by Miri below), so the stable toolchain works.
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
fuzz_out="$(mktemp -d)"
(cd fuzz && cargo fuzz run -s none headers "$fuzz_out" corpus/headers -- \
  -max_total_time="${FUZZ_SECONDS:-30}" -print_final_stats=1 2>&1 | tail -n 3)
rm -rf "$fuzz_out"
# The fuzz build (~0.6 GB) is not needed again in CI.
if [ "${CI:-}" = true ]; then
  rm -rf fuzz/target
fi

cargo test --workspace --all-features
cargo test --no-default-features --lib --tests

# Miri (undefined behaviour, data races, leaks) over the unsafe code: the reference count behind
# current spans, the in-place attribute and event writes, `Span::end` and the reuse of span
# records, which forgets attributes that own nothing instead of dropping them (their unit tests),
# then the whole trace API suite, which starts, nests, shares and ends spans across threads. Isolation off: the resource reads the executable's name.
# (An installed nightly is kept as it is: `rustup toolchain install` would update it.)
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
rustup component add --toolchain nightly miri rust-src
miri_env=(MIRIFLAGS="-Zmiri-disable-isolation" CARGO_TARGET_DIR="$PWD/target/miri")
env "${miri_env[@]}" cargo +nightly miri test --no-default-features --lib -- trace::span trace::pool attributes:: slot::
env "${miri_env[@]}" cargo +nightly miri test --no-default-features --test trace_api

