#!/usr/bin/env bash
# Runs a TAM and the load generator on this machine and reports where the CPU went.
#
#   scripts/bench-tam.sh DATA DEVICES ALG
#
# DATA: a TAM data directory whose database already registers DEVICES devices of ALG
# (ed25519, p256 or mixed) and assigns them a TC, e.g.
#   teep bench tam --populate-db sqlite://DATA/tam.db --populate-only --devices 1000 --url http://x/tam
#   teep tam tc add --data DATA --ta app.wasm --name app --assign all
#
# Environment (all optional):
#   BIN=target/release/teep   the binary for the TAM (GEN: for the generator, default BIN)
#   DB=postgres://...         serve from this database instead of DATA's SQLite file
#   CONF=FILE                 TAM config file (e.g. device_cache_entries = 1100000)
#   CONC=128 DUR=15           generator concurrency and run length in seconds
#   FROM=0 TO=DUR             measure only this window of the run (seconds from its start),
#                             e.g. the second half of a long run, once every device was seen
#   PORT=18402
#
# Prints the generator's report, then for the window: exchanges/s (from the TAM's
# committed-step counter, two steps per full exchange), CPU per exchange of each TAM thread
# (from /proc/PID/task/*/stat), of the generator and of PostgreSQL (every `postgres` process)
# when DB is set, the machine's idle and steal share, resident sizes, and how much of the
# TAM's CPU its signatures account for (the generator's "crypto floor", timed before the run
# at the machine's speed of the moment). CPU per exchange,
# not the rate, is what to compare between builds: the rate moves with the machine's speed.
set -euo pipefail

if [ $# -ne 3 ]; then
    awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"
    exit 2
fi
DATA=$1 DEVICES=$2 ALG=$3
BIN=${BIN:-target/release/teep}
GEN=${GEN:-$BIN}
CONC=${CONC:-128} DUR=${DUR:-15} FROM=${FROM:-0} TO=${TO:-$DUR} PORT=${PORT:-18402}
[ "$TO" -gt "$FROM" ] && [ "$TO" -le "$DUR" ] || { echo "need 0 <= FROM < TO <= DUR" >&2; exit 2; }
HZ=$(getconf CLK_TCK)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

args=(tam serve --data "$DATA" --listen "127.0.0.1:$PORT" --enroll registered)
[ -n "${DB:-}" ] && args+=(--db "$DB")
[ -n "${CONF:-}" ] && args+=(--config "$CONF")
"$BIN" "${args[@]}" >"$OUT/serve.log" 2>&1 &
TAM=$!
trap 'kill $TAM 2>/dev/null || true; rm -rf "$OUT"' EXIT
# A database from an older release is migrated before the TAM listens (seconds per million
# devices): wait for it, and stop if the TAM died instead.
up=0
for _ in $(seq 1500); do
    curl -sf "http://127.0.0.1:$PORT/metrics" >/dev/null && { up=1; break; }
    kill -0 $TAM 2>/dev/null || break
    sleep 0.2
done
if [ $up = 0 ]; then
    echo "the TAM did not come up; its log:" >&2
    cat "$OUT/serve.log" >&2
    exit 1
fi

# "name-tid ticks" for every TAM thread.
threads() {
    for t in /proc/$TAM/task/*; do
        printf '%s-%s %s\n' "$(cat "$t/comm")" "${t##*/}" "$(awk '{print $14 + $15}' "$t/stat")"
    done | sort
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
    local s=0 v
    for p in $(pgrep -u postgres || true); do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
        s=$((s + v))
    done
    echo $s
}
steps() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^teep_tam_committed_steps_total/ {print $2}'; }
cpu_line() { awk '/^cpu / {print $5 + $6, $9}' /proc/stat; }

"$GEN" bench tam --url "http://127.0.0.1:$PORT/tam" --devices "$DEVICES" \
    --concurrency "$CONC" --duration "$DUR" --alg "$ALG" --quiet >"$OUT/gen.txt" 2>&1 &
GENPID=$!
sleep "$FROM"
threads >"$OUT/t0"
s0=$(steps) g0=$(ticks $GENPID) p0=$(pg_ticks) w0=$(date +%s.%N)
read -r i0 st0 < <(cpu_line)
sleep $((TO - FROM))
threads >"$OUT/t1"
s1=$(steps) g1=$(ticks $GENPID) p1=$(pg_ticks) w1=$(date +%s.%N)
read -r i1 st1 < <(cpu_line)
rss=$(awk '/VmRSS/ {print $2}' /proc/$TAM/status)
grss=$(awk '/VmRSS/ {print $2}' /proc/$GENPID/status)
wait $GENPID || true
cat "$OUT/gen.txt"
# What the TAM complained about (a 503 from storage says why only here).
warns=$(grep -c -E 'WARN|ERROR' "$OUT/serve.log" || true)
if [ "$warns" -gt 0 ]; then
    echo "TAM log: $warns warnings or errors, the first ones:"
    grep -E 'WARN|ERROR' "$OUT/serve.log" | head -5 | cut -c1-300
fi

awk -v s0="$s0" -v s1="$s1" -v w0="$w0" -v w1="$w1" -v g0="$g0" -v g1="$g1" \
    -v i0="$i0" -v i1="$i1" -v st0="$st0" -v st1="$st1" -v rss="$rss" -v grss="$grss" \
    -v hz="$HZ" -v ncpu="$(nproc)" -v p0="$p0" -v p1="$p1" -v pg="${DB:-}" -v from="$FROM" -v to="$TO" 'BEGIN {
    w = w1 - w0; x = (s1 - s0) / 2; us = 1e6 / hz
    if (x <= 0) { print "no exchange committed in the window"; exit 1 }
    printf "window %d-%d s: %.0f exchanges/s\n", from, to, x / w
    printf "  generator          %6.0f us/exch\n", (g1 - g0) * us / x
    if (pg ~ /^postgres/) printf "  postgres           %6.0f us/exch\n", (p1 - p0) * us / x
    printf "  machine idle %.0f %%, steal %.0f %% of all cores; RSS TAM %.0f MB, generator %.0f MB\n",
        100 * (i1 - i0) / hz / w / ncpu, 100 * (st1 - st0) / hz / w / ncpu, rss / 1024, grss / 1024
}'
echo "TAM threads:"
# The generator's estimate of the TAM's signing cost per exchange at the machine's speed.
floor=$(sed -n 's/^crypto floor  TAM \([0-9]*\) .*/\1/p' "$OUT/gen.txt")
join "$OUT/t0" "$OUT/t1" | awk -v s0="$s0" -v s1="$s1" -v hz="$HZ" -v floor="${floor:-}" '{
    x = (s1 - s0) / 2; d = ($3 - $2) * 1e6 / hz / x; tot += d
    if (d >= 0.5) printf "  %-24s %6.0f us/exch\n", $1, d
} END {
    printf "  %-24s %6.0f us/exch\n", "TOTAL", tot
    if (floor != "" && tot > 0)
        printf "  %-24s %6.0f us/exch (%.0f %% of the TAM'"'"'s CPU)\n", "of it signatures", floor, 100 * floor / tot
}'
