#!/usr/bin/env bash
# Counts the instructions the TAM executes per exchange, under callgrind: a figure that does not
# move with the machine's load or clock (unlike CPU time), so two builds can be compared on a
# busy or shared machine, and the functions that differ can be named.
#
#   scripts/bench-tam-instructions.sh DATA DEVICES ALG
#
# DATA as for scripts/bench-tam.sh (a TAM data directory registering DEVICES devices of ALG with
# a TC assigned). Environment (all optional):
#   BIN=target/release/teep   the TAM binary (GEN: the load generator's, default BIN)
#   CONC=16 WARM=20 DUR=30     generator concurrency, seconds before counting, seconds counted
#   OUT=DIR                   keep the callgrind profile there (default: a temporary directory)
#   PORT=18403
#
# Prints instructions per exchange (the counted window's instructions over the exchanges the
# TAM committed in it) and the functions with the most inclusive instructions per exchange.
# Compare two builds with callgrind_annotate on the two profiles.
set -euo pipefail

if [ $# -ne 3 ]; then
    awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"
    exit 2
fi
DATA=$1 DEVICES=$2 ALG=$3
BIN=${BIN:-target/release/teep}
GEN=${GEN:-$BIN}
CONC=${CONC:-16} WARM=${WARM:-20} DUR=${DUR:-30} PORT=${PORT:-18403}
command -v valgrind >/dev/null || { echo "needs valgrind (apt install valgrind)" >&2; exit 2; }
KEEP=${OUT:-}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
[ -n "$KEEP" ] || trap 'rm -rf "$OUT"' EXIT

# Instrumentation starts off (migrations and start-up run at full speed) and is switched on
# for the counted window only.
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
    "$BIN" tam serve --data "$DATA" --listen "127.0.0.1:$PORT" --enroll registered \
    >"$OUT/serve.log" 2>&1 &
TAM=$!
trap 'kill $TAM 2>/dev/null || true; [ -n "$KEEP" ] || rm -rf "$OUT"' EXIT
up=0
for _ in $(seq 3000); do
    curl -sf "http://127.0.0.1:$PORT/metrics" >/dev/null && { up=1; break; }
    kill -0 $TAM 2>/dev/null || break
    sleep 0.2
done
[ $up = 1 ] || { echo "the TAM did not come up:" >&2; cat "$OUT/serve.log" >&2; exit 1; }

steps() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^teep_tam_committed_steps_total/ {print $2}'; }
"$GEN" bench tam --url "http://127.0.0.1:$PORT/tam" --devices "$DEVICES" \
    --concurrency "$CONC" --duration "$((WARM + DUR + 5))" --alg "$ALG" --quiet \
    >"$OUT/gen.txt" 2>&1 &
GENPID=$!
sleep "$WARM"
callgrind_control -i on $TAM >/dev/null
s0=$(steps)
sleep "$DUR"
s1=$(steps)
echo "committed steps in the window: $s0 -> $s1"
callgrind_control -i off $TAM >/dev/null
callgrind_control -d $TAM >/dev/null
wait $GENPID || true
kill $TAM 2>/dev/null || true
wait $TAM 2>/dev/null || true

# The dump of the window is the numbered file; the one written at exit holds nothing.
prof=$(ls "$OUT"/callgrind.out.* | sort -t. -k3 -n | tail -1)
total=$(awk '/^totals:/ {print $2; exit}' "$prof")
awk -v s0="$s0" -v s1="$s1" -v t="$total" 'BEGIN {
    x = (s1 - s0) / 2
    if (x <= 0) { print "no exchange committed in the window"; exit 1 }
    printf "%d exchanges counted, %.0f instructions per exchange\n", x, t / x
}'
echo "profile: $prof (kept only with OUT=DIR)"
callgrind_annotate --inclusive=yes "$prof" 2>/dev/null | sed -n '/file:function/,$p' | head -40 || true
