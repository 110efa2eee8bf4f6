#!/usr/bin/env bash
# Checks that Cargo, not discipline, keeps the layout of docs/ARCHITECTURE.md:
#  1. the sans-IO cores link no I/O stack (tokio, axum, hyper, sqlx, ureq, reqwest, aws-lc-rs);
#  2. the TAM server does not link the load generator;
#  3. every core crate builds #![no_std] with --no-default-features;
#  4. no source file outside tests is over 600 lines.
# Run from anywhere; exits non-zero naming each violation. .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
say() { echo "layout: $*" >&2; fail=1; }

# Cores checked with their default features: their `std` brings no crypto provider (the
# embedder picks one), so not aws-lc-rs either.
PURE_CORES=(teep-tam-core teep-agent)
NO_STD_CORES=(teep-cbor teep-cose teep-proto teep-suit teep-agent teep-tam-core)
FORBIDDEN='^(tokio|axum|hyper|hyper-util|sqlx|sqlx-core|ureq|reqwest|aws-lc-rs|aws-lc-sys) '

for c in "${PURE_CORES[@]}"; do
    bad=$(cargo tree -q -e normal -p "$c" --prefix none --no-dedupe | sort -u | grep -E "$FORBIDDEN" || true)
    [ -z "$bad" ] || say "$c links an I/O stack: $(echo "$bad" | awk '{print $1}' | tr '\n' ' ')"
done

if cargo tree -q -e normal -p teep-tam --prefix none | grep -q '^teep-bench '; then
    say "teep-tam (the server) links teep-bench (the load generator)"
fi

for c in "${NO_STD_CORES[@]}"; do
    grep -q 'no_std' "crates/$c/src/lib.rs" || say "$c: src/lib.rs does not declare no_std"
    if ! out=$(cargo build -q -p "$c" --no-default-features 2>&1); then
        say "$c does not build with --no-default-features:"
        echo "$out" | grep -E '^error' | head -5 >&2
    fi
done

while read -r n f; do
    [ "$f" = total ] && continue
    say "$f has $n lines (at most 600 outside tests)"
done < <(find crates -name '*.rs' -not -path '*/tests/*' -not -path '*/fuzz/*' -print0 \
    | xargs -0 wc -l | awk '$1 > 600')

[ $fail -eq 0 ] && echo "layout: cores pure, no_std builds pass, files under 600 lines"
exit $fail
