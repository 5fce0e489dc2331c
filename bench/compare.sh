#!/usr/bin/env bash
# compare.sh — Tollgate against nginx and HAProxy as proxies to one origin, same load, one run.
#
# What it does (loopback only; bounded: a watchdog stops it MAX_SECONDS after the build):
#   1. installs nginx/haproxy/wrk with apt-get if missing; builds
#      `cargo build --release -p tollgate -p tollgate-load` (bounded by BUILD_SECONDS);
#   2. starts the origin: nginx, one worker, answering 200 {"ok":true} on every path
#      (bench/peers/origin.conf, as in the shared run-peers.sh);
#   3. per scenario: starts Tollgate, nginx (proxy_pass + upstream keepalive, 1 worker) and
#      HAProxy (nbthread 1, http-reuse always) as proxies to it, all pinned to CPU 1; the origin
#      and the load generator share CPU 0;
#   4. drives each proxy with the same closed-loop load (tollgate-load, CONNS connections,
#      DURATION s), ROUNDS rounds interleaved (round 1 of every target, then round 2, ...);
#   5. prints requests/s, p50 and p99 (medians over rounds), the proxy's own CPU time per
#      request (utime+stime of its process group, from /proc), and Tollgate's ratios to nginx
#      and HAProxy (median of per-round ratios);
#   6. stops every process group it started, by PID.
# If Tollgate does not build, start, or answer 200, the peers are still measured and the output
# says so.
#
# Scenarios (SCENARIOS="proxy apikey cache"): proxy = plain HTTP_PROXY; apikey = the same with an API
# key, a usage plan (throttle + quota) and stage throttles checked on every request; cache = the
# same with the stage cache on, so Tollgate answers hits (the peers still proxy). A scenario NAME is
#   loadtest/scenarios/NAME.json       the request (path, method, headers, body) for tollgate-load
#   bench/tollgate-NAME.yaml           the gateway config Tollgate serves it with
#   bench/peers/nginx-NAME.conf        optional: peer configs when the defaults
#   bench/peers/haproxy-NAME.cfg         (plain proxying, bench/peers/*.conf|cfg) do not fit
# Tollgate's command line is a contract:
#   target/release/tollgate serve bench/tollgate-NAME.yaml --listen 127.0.0.1:PORT --workers 1 \
#     --stage-var backend=127.0.0.1:BACKEND_PORT
#
# Knobs (environment): CONNS=64 DURATION=5 (s per run) WARMUP=1 (s per target) ROUNDS=3
#   SCENARIOS=proxy BASE_PORT=18380 (origin; proxies +1 tollgate, +2 nginx, +3 haproxy,
#   +4 the plain baseline) PLAIN_BASELINE=1 (in every scenario but proxy, also run Tollgate on
#   bench/tollgate-proxy.yaml as target "tollgate-plain" in the same rounds, and print the
#   scenario's ratio to it: the "keeps X% of the plain path" figure)
#   MAX_SECONDS=270 BUILD_SECONDS=900 SKIP_BUILD=0 OUT_DIR=<dir for raw results>
#   TOLLGATE_ARGS="" (extra arguments for `tollgate serve`)  TOLLGATE_BIN=target/release/tollgate
set -uo pipefail

CONNS=${CONNS:-64}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS:-proxy}
BASE_PORT=${BASE_PORT:-18380}
MAX_SECONDS=${MAX_SECONDS:-270}
BUILD_SECONDS=${BUILD_SECONDS:-900}
SKIP_BUILD=${SKIP_BUILD:-0}
TOLLGATE_ARGS=${TOLLGATE_ARGS:-}
PLAIN_BASELINE=${PLAIN_BASELINE:-1}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
LOAD=$ROOT/target/release/tollgate-load
GATEWAY=${TOLLGATE_BIN:-$ROOT/target/release/tollgate}
T0=$(date +%s)

log() { printf '[%3ds] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in CONNS DURATION WARMUP ROUNDS BASE_PORT MAX_SECONDS BUILD_SECONDS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( DURATION >= 1 && ROUNDS >= 1 && CONNS >= 1 )) || die "DURATION, ROUNDS and CONNS must be at least 1"

# ---------------------------------------------------------------- tools
missing=()
for t in nginx haproxy wrk; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if (( ${#missing[@]} > 0 )); then
  log "installing ${missing[*]} with apt-get"
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get"
  SUDO=""; (( EUID != 0 )) && SUDO=sudo
  timeout 300 $SUDO apt-get install -y "${missing[@]}" >/dev/null 2>&1 \
    || { timeout 120 $SUDO apt-get update >/dev/null 2>&1 && timeout 300 $SUDO apt-get install -y "${missing[@]}" >/dev/null 2>&1; } \
    || die "apt-get install ${missing[*]} failed"
fi
for t in nginx haproxy taskset setsid curl python3 ss timeout; do
  command -v "$t" >/dev/null 2>&1 || die "missing tool: $t"
done

# ---------------------------------------------------------------- build
GATEWAY_BUILT=1
if [[ "$SKIP_BUILD" != 1 ]]; then
  log "cargo build --release -p tollgate -p tollgate-load (at most ${BUILD_SECONDS}s)"
  if ! timeout "$BUILD_SECONDS" cargo build --release -p tollgate -p tollgate-load >"${TMPDIR:-/tmp}/compare-build.$$.log" 2>&1; then
    log "building both failed; building tollgate-load alone (tail of the log follows)"
    tail -5 "${TMPDIR:-/tmp}/compare-build.$$.log" >&2
    GATEWAY_BUILT=0
    timeout "$BUILD_SECONDS" cargo build --release -p tollgate-load >&2 || die "tollgate-load does not build"
  fi
  rm -f "${TMPDIR:-/tmp}/compare-build.$$.log"
fi
[[ -x "$LOAD" ]] || die "$LOAD not found (build it, or unset SKIP_BUILD)"
[[ -x "$GATEWAY" ]] || GATEWAY_BUILT=0

# The benchmark budget starts now; the build above has its own bound.
T0=$(date +%s)
DEADLINE=$((T0 + MAX_SECONDS))

if [[ -n "${OUT_DIR:-}" ]]; then RUN_DIR=$OUT_DIR; mkdir -p "$RUN_DIR"; else RUN_DIR=$(mktemp -d /tmp/compare.XXXXXX); fi
RUN_DIR=$(cd "$RUN_DIR" && pwd)
RAW=$RUN_DIR/raw.tsv
printf 'scenario\ttarget\tround\trps\tp50_us\tp99_us\tnon_2xx\terrors\tcpu_us_per_req\n' > "$RAW"

# ---------------------------------------------------------------- process tracking
NCPU=$(nproc)
if (( NCPU >= 2 )); then LOAD_CPU=0; PROXY_CPU=1; else LOAD_CPU=0; PROXY_CPU=0; fi

declare -a STARTED_PGIDS=()
declare -A PGID_OF=()
WATCHDOG_PID=""
group_pids() { ps -e -o pid=,pgid= | awk -v g="$1" '$2==g {print $1}'; }
stop_group() {  # stop_group PGID: TERM, up to 2 s, then KILL
  local g=$1 i p
  kill -TERM -- "-$g" 2>/dev/null
  for i in 1 2 3 4 5 6 7 8 9 10; do [[ -z "$(group_pids "$g")" ]] && return 0; sleep 0.2; done
  for p in $(group_pids "$g"); do kill -KILL "$p" 2>/dev/null; done
}
stop_named() {  # stop_named NAME: stop one server we started and forget it
  local g=${PGID_OF[$1]:-} keep=() x
  [[ -z "$g" ]] && return 0
  stop_group "$g"
  for x in "${STARTED_PGIDS[@]}"; do [[ $x != "$g" ]] && keep+=("$x"); done
  STARTED_PGIDS=("${keep[@]}")
  unset "PGID_OF[$1]"
}
cleanup() {
  local g
  for g in "${STARTED_PGIDS[@]}"; do stop_group "$g"; done
  STARTED_PGIDS=()
  [[ -n "$WATCHDOG_PID" ]] && kill -TERM -- "-$WATCHDOG_PID" 2>/dev/null
  WATCHDOG_PID=""
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
# Hard stop 15 s after the budget, in its own process group (cleanup runs via the trap).
setsid bash -c "sleep $((MAX_SECONDS + 15)); kill -TERM $$ 2>/dev/null" >/dev/null 2>&1 < /dev/null &
WATCHDOG_PID=$!

start_bg() {  # start_bg NAME CPULIST CMD... : new session, pinned, output to RUN_DIR/NAME.log
  local name=$1 cpus=$2; shift 2
  setsid taskset -c "$cpus" "$@" >"$RUN_DIR/$name.log" 2>&1 < /dev/null &
  STARTED_PGIDS+=("$!")
  PGID_OF[$name]=$!
}

wait_http() {  # wait_http NAME PORT PATH : up to 10 s for a 200; 1 if the process exits first
  local name=$1 port=$2 path=$3 i
  for i in $(seq 1 100); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "${CURL_H[@]}" "http://127.0.0.1:$port$path")" == 200 ]] && return 0
    [[ -z "$(group_pids "${PGID_OF[$name]}")" ]] && { log "$name exited; tail of $RUN_DIR/$name.log:"; tail -5 "$RUN_DIR/$name.log" >&2; return 1; }
    sleep 0.1
  done
  log "$name gave no 200 on :$port$path within 10 s; tail of its log:"; tail -5 "$RUN_DIR/$name.log" >&2
  return 1
}

group_ticks() {  # utime+stime (clock ticks) over a server's process group
  local total=0 p s rest f
  for p in $(group_pids "${PGID_OF[$1]}"); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${s##*) }
    read -r -a f <<<"$rest"
    total=$(( total + f[11] + f[12] ))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

render() {  # render TEMPLATE OUT LISTEN_PORT DIR
  sed -e "s|@RUN_DIR@|$4|g" -e "s|@LISTEN_PORT@|$3|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$1" > "$2"
}
peer_file() {  # peer_file BASE EXT SCENARIO: the scenario's own peer config if it has one
  if [[ -f "bench/peers/$1-$3.$2" ]]; then echo "bench/peers/$1-$3.$2"; else echo "bench/peers/$1.$2"; fi
}
CURL_H=()   # the current scenario's request headers, as curl -H arguments (readiness checks)
scenario_headers() {  # one header per line from a scenario's "headers"
  python3 -c 'import json,sys; [print(h) for h in json.load(open(sys.argv[1])).get("headers", [])]' "$1"
}
scenario_path() {  # the request path of a scenario, for readiness checks
  python3 -c 'import json,sys,re; u=json.load(open(sys.argv[1])).get("url","http://x/"); m=re.match(r"http://[^/?]*(.*)",u); p=m.group(1) if m else "/"; print(p if p.startswith("/") else "/"+p)' "$1"
}

# ---------------------------------------------------------------- origin
BACKEND_PORT=$BASE_PORT
TG_PORT=$((BASE_PORT + 1)); NGINX_PORT=$((BASE_PORT + 2)); HAPROXY_PORT=$((BASE_PORT + 3))
PLAIN_PORT=$((BASE_PORT + 4))
for p in "$BACKEND_PORT" "$TG_PORT" "$NGINX_PORT" "$HAPROXY_PORT" "$PLAIN_PORT"; do
  [[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]] || die "port $p is in use; set BASE_PORT"
done
mkdir -p "$RUN_DIR/origin/tmp"; chmod 777 "$RUN_DIR/origin/tmp"
render bench/peers/origin.conf "$RUN_DIR/origin/nginx.conf" "$BACKEND_PORT" "$RUN_DIR/origin"
start_bg origin "$LOAD_CPU" nginx -p "$RUN_DIR/origin" -c "$RUN_DIR/origin/nginx.conf" -e "$RUN_DIR/origin/error.log"
wait_http origin "$BACKEND_PORT" / || die "the origin did not start"

# Fit the plan into the budget: shorten DURATION (never below 2 s) rather than drop targets.
NS=$(wc -w <<<"$SCENARIOS")
NT=3; [[ "$PLAIN_BASELINE" == 1 && "$SCENARIOS" != proxy ]] && NT=4   # targets per scenario
plan_s() { echo $(( 5 + NS * (12 + NT * (WARMUP + 1) + NT * ROUNDS * ($1 + 1)) )); }
if (( $(plan_s "$DURATION") > MAX_SECONDS )); then
  d=$DURATION
  while (( d > 2 )) && (( $(plan_s "$d") > MAX_SECONDS )); do d=$((d - 1)); done
  log "the plan needs $(plan_s "$DURATION")s > MAX_SECONDS=$MAX_SECONDS: DURATION $DURATION -> $d s"
  DURATION=$d
fi

NOTES=()
# ---------------------------------------------------------------- scenarios
for sc in $SCENARIOS; do
  [[ "$sc" =~ ^[A-Za-z0-9_-]+$ ]] || die "bad scenario name '$sc'"
  SC_FILE=loadtest/scenarios/$sc.json
  [[ -f "$SC_FILE" ]] || die "scenario $sc: $SC_FILE not found"
  SC_PATH=$(scenario_path "$SC_FILE") || die "scenario $sc: cannot read the url in $SC_FILE"
  (( $(date +%s) + 20 < DEADLINE )) || { log "skip scenario $sc: time budget"; NOTES+=("scenario $sc skipped: time budget"); continue; }
  log "== scenario $sc ($SC_FILE, path $SC_PATH)"
  CURL_H=()
  while IFS= read -r h; do [[ -n "$h" ]] && CURL_H+=(-H "$h"); done < <(scenario_headers "$SC_FILE")

  SD=$RUN_DIR/$sc; mkdir -p "$SD/nginx/tmp"; chmod 777 "$SD/nginx/tmp"
  render "$(peer_file nginx conf "$sc")" "$SD/nginx/nginx.conf" "$NGINX_PORT" "$SD/nginx"
  render "$(peer_file haproxy cfg "$sc")" "$SD/haproxy.cfg" "$HAPROXY_PORT" "$SD"

  TARGETS=()
  TG_CONF=bench/tollgate-$sc.yaml
  if (( GATEWAY_BUILT == 0 )); then
    NOTES+=("$sc: Tollgate NOT measured: target/release/tollgate did not build")
  elif [[ ! -f "$TG_CONF" ]]; then
    NOTES+=("$sc: Tollgate NOT measured: $TG_CONF not found")
  else
    # shellcheck disable=SC2086  # TOLLGATE_ARGS is a word list by design
    start_bg "tollgate-$sc" "$PROXY_CPU" "$GATEWAY" serve "$TG_CONF" --listen "127.0.0.1:$TG_PORT" \
      --workers 1 --stage-var "backend=127.0.0.1:$BACKEND_PORT" $TOLLGATE_ARGS
    if wait_http "tollgate-$sc" "$TG_PORT" "$SC_PATH"; then
      TARGETS+=("tollgate:$TG_PORT")
    else
      NOTES+=("$sc: Tollgate NOT measured: it did not start or did not answer 200 on $SC_PATH (log: $RUN_DIR/tollgate-$sc.log)")
      stop_named "tollgate-$sc"
    fi
  fi
  # The plain HTTP_PROXY path in the same interleaved rounds, so "keeps X% of the plain path"
  # (issues 3 and 4) is a per-round ratio, not a comparison across scenarios run minutes apart.
  if [[ "$PLAIN_BASELINE" == 1 && "$sc" != proxy && " ${TARGETS[*]} " == *" tollgate:"* ]]; then
    # shellcheck disable=SC2086
    start_bg "tollgate-plain-$sc" "$PROXY_CPU" "$GATEWAY" serve bench/tollgate-proxy.yaml \
      --listen "127.0.0.1:$PLAIN_PORT" --workers 1 --stage-var "backend=127.0.0.1:$BACKEND_PORT" \
      --state-dir "$SD/plain-state" $TOLLGATE_ARGS
    if wait_http "tollgate-plain-$sc" "$PLAIN_PORT" "$SC_PATH"; then
      TARGETS+=("tollgate-plain:$PLAIN_PORT")
    else
      NOTES+=("$sc: the plain baseline did not start (log: $RUN_DIR/tollgate-plain-$sc.log)")
      stop_named "tollgate-plain-$sc"
    fi
  fi
  start_bg "nginx-$sc" "$PROXY_CPU" nginx -p "$SD/nginx" -c "$SD/nginx/nginx.conf" -e "$SD/nginx/error.log"
  wait_http "nginx-$sc" "$NGINX_PORT" "$SC_PATH" && TARGETS+=("nginx:$NGINX_PORT") || NOTES+=("$sc: nginx did not start")
  start_bg "haproxy-$sc" "$PROXY_CPU" haproxy -db -f "$SD/haproxy.cfg"
  wait_http "haproxy-$sc" "$HAPROXY_PORT" "$SC_PATH" && TARGETS+=("haproxy:$HAPROXY_PORT") || NOTES+=("$sc: haproxy did not start")
  for t in "${TARGETS[@]}"; do
    name=${t%%:*}; port=${t##*:}
    body=$(curl -s --max-time 2 "${CURL_H[@]}" "http://127.0.0.1:$port$SC_PATH")
    [[ "$body" == '{"ok":true}' ]] || NOTES+=("$sc: $name answered body '${body:0:60}' (origin sends {\"ok\":true})")
  done
  (( ${#TARGETS[@]} > 0 )) || { NOTES+=("$sc: no target started"); continue; }

  load() {  # load PORT SECONDS JSON_OUT : one closed-loop run, bounded
    timeout $(( $2 + 20 )) taskset -c "$LOAD_CPU" "$LOAD" --scenario "$SC_FILE" --target "127.0.0.1:$1" \
      --connections "$CONNS" --threads 1 --duration "${2}s" --warmup 0s --json "$3" >>"$SD/load.log" 2>&1
  }
  if (( WARMUP > 0 )); then
    for t in "${TARGETS[@]}"; do load "${t##*:}" "$WARMUP" "$SD/warmup.json"; done
  fi
  log "$sc: ${TARGETS[*]%%:*}: -c$CONNS -d${DURATION}s x $ROUNDS rounds, interleaved"
  for r in $(seq 1 "$ROUNDS"); do
    for t in "${TARGETS[@]}"; do
      name=${t%%:*}; port=${t##*:}
      if (( $(date +%s) + DURATION + 5 > DEADLINE )); then NOTES+=("$sc: $name round $r skipped: time budget"); continue; fi
      out=$SD/$name.$r.json; rm -f "$out"
      srv=$name-$sc; [[ $name == tollgate* ]] && srv=$name-$sc
      c0=$(group_ticks "$srv")
      load "$port" "$DURATION" "$out"
      c1=$(group_ticks "$srv")
      if [[ ! -s "$out" ]]; then NOTES+=("$sc: $name round $r: no result (see $SD/load.log)"); continue; fi
      python3 - "$out" "$sc" "$name" "$r" "$(( c1 - c0 ))" "$CLK_TCK" >>"$RAW" <<'EOF'
import json, sys
path, sc, name, rnd, ticks, hz = sys.argv[1:]
d = json.load(open(path))
n = d["responses"]
cpu = (int(ticks) / int(hz)) * 1e6 / n if n else 0
print(f'{sc}\t{name}\t{rnd}\t{d["rps"]:.0f}\t{d["latency_us"]["p50"]}\t{d["latency_us"]["p99"]}\t{d["non_2xx"]}\t{d["errors"]}\t{cpu:.2f}')
EOF
      log "  round $r $name: $(tail -1 "$RAW" | cut -f4) rps"
    done
  done
  stop_named "tollgate-$sc"; stop_named "tollgate-plain-$sc"; stop_named "nginx-$sc"; stop_named "haproxy-$sc"
done

cleanup
trap - EXIT

# ---------------------------------------------------------------- summary
{
  echo "# compare.sh ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
  echo
  echo "host: $NCPU CPU, $(lscpu | awk -F: '/Model name/{gsub(/^ +/,"",$2); print $2}'), kernel $(uname -r)"
  echo "tools: $(nginx -v 2>&1 | sed 's/^nginx version: //'), haproxy $(haproxy -v | head -1 | awk '{print $3}'), tollgate-load closed loop -c$CONNS -d${DURATION}s, $ROUNDS rounds interleaved, driver $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["driver"])' "$(ls "$RUN_DIR"/*/*.1.json 2>/dev/null | head -1)" 2>/dev/null || echo '?')"
  echo "layout: origin + load generator on CPU $LOAD_CPU, proxy on CPU $PROXY_CPU; raw: $RAW"
  echo
  python3 - "$RAW" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = statistics.median
for sc in dict.fromkeys(r["scenario"] for r in rows):
    rs = [r for r in rows if r["scenario"] == sc]
    targets = list(dict.fromkeys(r["target"] for r in rs))
    by = {(r["target"], r["round"]): r for r in rs}
    print(f"## {sc}\n")
    print("| target | rps (median) | rps min..max | p50 us | p99 us | proxy CPU us/req | non-2xx | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    M = {}
    for t in targets:
        tr = [r for r in rs if r["target"] == t]
        rps = [float(r["rps"]) for r in tr]
        M[t] = dict(rps=med(rps), p50=med(float(r["p50_us"]) for r in tr), p99=med(float(r["p99_us"]) for r in tr))
        bad = sum(int(r["non_2xx"]) for r in tr), sum(int(r["errors"]) for r in tr)
        print(f'| {t} | {M[t]["rps"]:.0f} | {min(rps):.0f}..{max(rps):.0f} | {M[t]["p50"]:.1f} | {M[t]["p99"]:.1f} '
              f'| {med(float(r["cpu_us_per_req"]) for r in tr):.2f} | {bad[0]} | {bad[1]} |')
    print()
    if "tollgate" in M:
        for peer in ("tollgate-plain", "nginx", "haproxy"):
            if peer not in M:
                continue
            ratios = [float(by[("tollgate", k)]["rps"]) / float(by[(peer, k)]["rps"])
                      for (t, k) in by if t == "tollgate" and (peer, k) in by and float(by[(peer, k)]["rps"]) > 0]
            if ratios:
                label = "the plain HTTP_PROXY path (tollgate-plain)" if peer == "tollgate-plain" else peer
                print(f"Tollgate / {label}: rps x{med(ratios):.3f} (median of {len(ratios)} per-round ratios), "
                      f"p50 x{M['tollgate']['p50'] / M[peer]['p50']:.3f}, p99 x{M['tollgate']['p99'] / M[peer]['p99']:.3f}")
    else:
        print("Tollgate: not measured in this run (see notes).")
    print()
EOF
  for n in "${NOTES[@]}"; do echo "note: $n"; done
} > "$RUN_DIR/summary.md"
cat "$RUN_DIR/summary.md"
log "done; raw results in $RUN_DIR"
