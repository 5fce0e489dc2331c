#!/usr/bin/env bash
# callgrind-scenario.sh — user-space instructions per request for Tollgate on any compare.sh
# scenario (valgrind callgrind; exact and repeatable, whatever else the machine is doing).
#
# For each scenario NAME: starts the fixed-response origin (bench/peers/origin.conf), runs
# `tollgate serve bench/tollgate-NAME.yaml --workers 1` under callgrind, sends exactly
# N_SMALL requests of loadtest/scenarios/NAME.json with tollgate-load, stops it (SIGTERM, so
# callgrind writes its totals), repeats with N_LARGE, and prints
# (Ir(N_LARGE) - Ir(N_SMALL)) / (N_LARGE - N_SMALL): the instructions one request costs, with
# start-up and shutdown cancelled out. The same method as ../shared/bench/callgrind-proxy.sh,
# extended to scenarios with headers and bodies (API keys, templates, cache hits).
#
#   bench/callgrind-scenario.sh [NAME...]        # default: proxy apikey cache templates
#
# Knobs: N_SMALL=2000 N_LARGE=12000 CONNS=8 BASE_PORT=18680 MAX_SECONDS=600 SKIP_BUILD=0
# Loopback only; every process it starts is stopped by PID; bounded by MAX_SECONDS.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
N_SMALL=${N_SMALL:-2000}
N_LARGE=${N_LARGE:-12000}
CONNS=${CONNS:-8}
BASE_PORT=${BASE_PORT:-18680}
MAX_SECONDS=${MAX_SECONDS:-600}
SKIP_BUILD=${SKIP_BUILD:-0}
SCENARIOS=${*:-proxy apikey cache templates}
GATEWAY=$ROOT/target/release/tollgate
LOAD=$ROOT/target/release/tollgate-load
T0=$(date +%s)
log() { printf '[%3ds] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in N_SMALL N_LARGE CONNS BASE_PORT MAX_SECONDS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
(( N_LARGE > N_SMALL )) || die "N_LARGE must exceed N_SMALL"
for t in valgrind nginx curl setsid timeout; do command -v "$t" >/dev/null || die "needs $t"; done
if [[ "$SKIP_BUILD" != 1 ]]; then
  log "cargo build --release -p tollgate -p tollgate-load"
  timeout 1800 cargo build --release -p tollgate -p tollgate-load >&2 || die "build failed"
fi
[[ -x "$GATEWAY" && -x "$LOAD" ]] || die "build target/release/tollgate and tollgate-load first"

RUN_DIR=$(mktemp -d /tmp/callgrind-scenario.XXXXXX)
PGIDS=()
stop_pgid() {
  kill -TERM -- "-$1" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null
}
cleanup() { for g in "${PGIDS[@]}"; do stop_pgid "$g"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM
setsid bash -c "sleep $MAX_SECONDS; kill -TERM $$" >/dev/null 2>&1 </dev/null &
PGIDS+=("$!")

BACKEND_PORT=$BASE_PORT
TG_PORT=$((BASE_PORT + 1))
mkdir -p "$RUN_DIR/origin/tmp"
sed -e "s|@RUN_DIR@|$RUN_DIR/origin|g" -e "s|@LISTEN_PORT@|$BACKEND_PORT|g" bench/peers/origin.conf \
  >"$RUN_DIR/origin/nginx.conf"
setsid nginx -p "$RUN_DIR/origin" -c "$RUN_DIR/origin/nginx.conf" -e "$RUN_DIR/origin/error.log" \
  >"$RUN_DIR/origin.log" 2>&1 </dev/null &
PGIDS+=("$!")
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$BACKEND_PORT/" && break; sleep 0.1; done

# One measurement: Ir of a gateway process that answered N requests (then exited).
measure() {  # measure SCENARIO N -> prints the Ir total
  local sc=$1 n=$2 out=$RUN_DIR/$1.$2.callgrind pid i
  rm -rf "$RUN_DIR/state-$sc-$n"
  setsid valgrind --tool=callgrind --callgrind-out-file="$out" "$GATEWAY" serve "bench/tollgate-$sc.yaml" \
    --listen "127.0.0.1:$TG_PORT" --workers 1 --stage-var "backend=127.0.0.1:$BACKEND_PORT" \
    --state-dir "$RUN_DIR/state-$sc-$n" >"$RUN_DIR/$sc.$n.log" 2>&1 </dev/null &
  pid=$!
  PGIDS+=("$pid")
  for i in $(seq 1 300); do
    grep -q "listening on" "$RUN_DIR/$sc.$n.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { tail -5 "$RUN_DIR/$sc.$n.log" >&2; return 1; }
    sleep 0.1
  done
  timeout 300 "$LOAD" --scenario "loadtest/scenarios/$sc.json" --target "127.0.0.1:$TG_PORT" \
    --connections "$CONNS" --threads 1 --requests "$n" --duration 290s --warmup 0s \
    --json "$RUN_DIR/$sc.$n.json" >>"$RUN_DIR/load.log" 2>&1 || { log "$sc: load failed"; return 1; }
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  python3 - "$out" "$RUN_DIR/$sc.$n.json" <<'EOF'
import json, sys
total = None
for line in open(sys.argv[1]):
    if line.startswith("totals:") or line.startswith("summary:"):
        total = int(line.split()[1])
d = json.load(open(sys.argv[2]))
print(total, d["responses"], d.get("non_2xx", 0), d.get("errors", 0))
EOF
}

printf '| scenario | Ir @ %s req | Ir @ %s req | instructions / request |\n|---|---:|---:|---:|\n' "$N_SMALL" "$N_LARGE" >"$RUN_DIR/summary.md"
for sc in $SCENARIOS; do
  [[ -f "bench/tollgate-$sc.yaml" && -f "loadtest/scenarios/$sc.json" ]] || die "no scenario $sc"
  log "measuring $sc: $N_SMALL then $N_LARGE requests over $CONNS connections"
  read -r ir1 r1 bad1 err1 < <(measure "$sc" "$N_SMALL") || die "$sc: measurement failed (logs in $RUN_DIR)"
  read -r ir2 r2 bad2 err2 < <(measure "$sc" "$N_LARGE") || die "$sc: measurement failed (logs in $RUN_DIR)"
  (( bad1 + err1 + bad2 + err2 == 0 )) || log "$sc: WARNING: non-2xx or errors ($bad1/$err1, $bad2/$err2)"
  per=$(( (ir2 - ir1) / (r2 - r1) ))
  log "$sc: Ir($r1)=$ir1 Ir($r2)=$ir2 -> $per Ir/request"
  printf '| %s | %s | %s | %s |\n' "$sc" "$ir1" "$ir2" "$per" >>"$RUN_DIR/summary.md"
done
cat "$RUN_DIR/summary.md"
log "raw files in $RUN_DIR"
