#!/usr/bin/env bash
# Profile-guided build of the `teep` binary for deployed TAMs.
#
#   scripts/build-pgo.sh        -> target/pgo/teep
#
# 1. builds an instrumented `teep` (production profile: fat LTO, one codegen unit);
# 2. trains it on the load a TAM is built for: a TAM on SQLite under `teep bench tam`, with
#    P-256 and Ed25519 devices and both numberings;
# 3. rebuilds with the merged profile.
#
# Needs llvm-profdata of rustc's LLVM version: `rustup component add llvm-tools`.
# From scratch it takes two fat-LTO builds (about 25 minutes on two cores) and half a minute
# of training; the instrumented build is incremental after that.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${PGO_TARGET_DIR:-$root/target/pgo}
port=${PGO_PORT:-18499}
mkdir -p "$out"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    echo "llvm-profdata not found at $profdata: run 'rustup component add llvm-tools'" >&2
    exit 1
fi

echo "== 1/3 instrumented build"
# A fixed profile directory keeps RUSTFLAGS, and so this build, the same from run to run.
raw="$out/data"
RUSTFLAGS="-Cprofile-generate=$raw" \
    cargo build --profile production -p teep-cli --target-dir "$out/instrumented"
teep="$out/instrumented/production/teep"
rm -rf "$raw" # what build scripts wrote while building

echo "== 2/3 training"
"$teep" tam serve --data "$work/tam" --listen "127.0.0.1:$port" --enroll tofu \
    > "$work/serve.log" 2>&1 &
tam=$!
for _ in $(seq 100); do
    grep -q "TAM listening" "$work/serve.log" && break
    sleep 0.1
done
head -c 4096 /dev/urandom > "$work/train.ta"
"$teep" tam tc add --data "$work/tam" --ta "$work/train.ta" --name train > /dev/null
"$teep" tam tc assign --data "$work/tam" --to all train > /dev/null
url="http://127.0.0.1:$port"
"$teep" bench tam --url "$url/tam" --devices 2000 --concurrency 64 --duration 20 \
    --alg mixed --quiet
"$teep" bench tam --url "$url/tam/legacy" --devices 200 --concurrency 16 --duration 4 \
    --numbering legacy --alg p256 --quiet
kill -TERM $tam
wait $tam || true
"$profdata" merge -o "$work/merged.profdata" "$raw"
# The profile's hash in its path: a new profile changes RUSTFLAGS and rebuilds everything,
# so no crate keeps code optimized for an older one.
sum=$(sha256sum "$work/merged.profdata" | cut -c1-16)
rm -f "$out"/merged-*.profdata
mv "$work/merged.profdata" "$out/merged-$sum.profdata"

echo "== 3/3 optimized build"
RUSTFLAGS="-Cprofile-use=$out/merged-$sum.profdata" \
    cargo build --profile production -p teep-cli --target-dir "$out/use"
cp "$out/use/production/teep" "$out/teep"
echo "built $out/teep"
