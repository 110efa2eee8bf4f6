#!/usr/bin/env bash
# Checks that every fuzz harness still builds (cargo check, stable toolchain). The harnesses
# live outside the workspace (cargo-fuzz crates under crates/*/fuzz), so no other build
# compiles them, and one that no longer builds is a decoder nobody can fuzz. One target
# directory for all of them checks the shared dependencies once. .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${FUZZ_CHECK_TARGET_DIR:-$PWD/target/fuzz-check}"

fail=0
for manifest in crates/*/fuzz/Cargo.toml; do
    if ! cargo check --quiet --manifest-path "$manifest" --bins; then
        echo "fuzz: the harnesses of ${manifest%/Cargo.toml} do not build" >&2
        fail=1
    fi
done
exit $fail
