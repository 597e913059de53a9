#!/usr/bin/env bash
# bench/latency.sh: measures request round-trip latency on a private mosquitto. Starts its own broker
# on a free 127.0.0.1 port (never any other address), starts cm-echo as the physical floor, runs
# cm-load against it and prints the figures; everything it started is stopped on exit.
#
# Usage: bench/latency.sh [-n COUNT] [-w "WINDOW..."] [-q QOS] [-N] [-o FILE] [BUILD_DIR]
#   BUILD_DIR  where cm-echo and cm-load were built: BUILD_DIR/bench/cm-* (default ./build)
#   -n COUNT   measured requests per run (default 2000), after COUNT/10 warmup requests
#   -w LIST    windows to measure, space separated (default "1")
#   -q QOS     request and reply QoS (default 1)
#   -N         also measure with Nagle left on (cm-echo and cm-load --no-nodelay); ~90 ms per
#              request at QoS 1, so this run is capped at 100 requests
#   -o FILE    also write cm-load's JSON result lines to FILE
#   -h         show this help
# Exit status: 0 when every run got all its replies right and in time, 1 otherwise, 2 on usage.
#
# It measures, in one run on one broker: cm-echo (the floor: a paho client with TCP_NODELAY that
# publishes each payload back), then the agent built in BUILD_DIR with a fresh database in a temporary
# directory: agent.ping (no token, no write) and customer.create (a tenant administrator's token, one
# durable SQLite commit per request at window 1), and prints each agent row's p50 as a multiple of
# the echo's p50 at the same window.
set -euo pipefail

BENCH_NAME=latency.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

COUNT=2000
WINDOWS="1"
QOS=1
NAGLE=0
OUT=""
while getopts ":n:w:q:No:h" opt; do
    case $opt in
        n) COUNT=$OPTARG ;;
        w) WINDOWS=$OPTARG ;;
        q) QOS=$OPTARG ;;
        N) NAGLE=1 ;;
        o) OUT=$OPTARG ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
case $COUNT in ''|*[!0-9]*|0) echo "latency.sh: -n wants a positive count" >&2; exit 2 ;; esac
case $QOS in 0|1|2) ;; *) echo "latency.sh: -q wants 0, 1 or 2" >&2; exit 2 ;; esac
for w in $WINDOWS; do
    case $w in ''|*[!0-9]*|0) echo "latency.sh: -w wants positive windows, not '$w'" >&2; exit 2 ;; esac
done
[ -n "${WINDOWS// /}" ] || { echo "latency.sh: -w wants at least one window" >&2; exit 2; }

ECHO_BIN=$BUILD/bench/cm-echo
LOAD_BIN=$BUILD/bench/cm-load
AGENT_BIN=$BUILD/cmagent
need_bins "$BUILD" "$ECHO_BIN" "$LOAD_BIN" "$AGENT_BIN"
need_mosquitto rr

WARMUP=$((COUNT / 10))
PREFIX=""    # the topic prefix measure() sends to; set before each responder's measure lines
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
declare -A P50  # "label/window" -> p50 ms, for the ratios printed at the end

ROW_FMT="%-24s %6s %4s %7s %6s %6s %10s %9s %9s %9s %9s\n"
print_header() {
    # shellcheck disable=SC2059
    printf "$ROW_FMT" label window qos count errors tmouts "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms"
}

# measure LABEL OP DATA TOKEN [EXPECT_STATUS [cm-load options...]]: one cm-load run per window
# against $PREFIX/req/OP; DATA and TOKEN may be empty; EXPECT_STATUS defaults to 200 (0 for echo)
measure() {
    local label=$1 op=$2 data=$3 token=$4 expect=${5:-200} w
    shift 4
    [ $# -gt 0 ] && shift
    for w in $WINDOWS; do
        load_args "$label" "$PREFIX" "$op" "$COUNT" "$w" "$expect" "$data" "$token" "$WARMUP"
        cm_load "${LOAD_ARGS[@]}" --qos "$QOS" "$@"
        report_row "$label" "$LAST"
    done
}

report_row() {
    local label=$1 out=$2
    if [ -z "$out" ]; then
        load_failed "$label" "printed nothing"
        return
    fi
    # shellcheck disable=SC2059
    printf "$ROW_FMT" "$label" "$(field window "$out")" "$(field qos "$out")" "$(field count "$out")" \
        "$(field errors "$out")" "$(field timeouts "$out")" "$(field throughput_rps "$out")" \
        "$(field p50_ms "$out")" "$(field p90_ms "$out")" "$(field p99_ms "$out")" "$(field max_ms "$out")"
    [ -z "$OUT" ] || echo "$out" >>"$OUT"
    P50[$label/$(field window "$out")]=$(field p50_ms "$out")
    [ "$LOAD_RC" -eq 0 ] || load_failed "$label"
}

[ -z "$OUT" ] || : >"$OUT"
start_broker
echo "broker    mosquitto on 127.0.0.1:$BROKER_PORT (set_tcp_nodelay true)"

start_bg echo "$ECHO_BIN" --broker "$BROKER_URI" --topic "bench/echo/req/+" --qos "$QOS"
wait_for_log cm-echo "$TMP/echo.log" 'cm-echo: ready' 10
echo "requests  $COUNT measured after $WARMUP warmup, windows: $WINDOWS, QoS $QOS"
echo
print_header

PREFIX=bench/echo
measure echo agent.ping '' '' 0

if [ "$NAGLE" = 1 ]; then
    # a second echo with Nagle on, on its own prefix so that only it answers these requests
    start_bg echo-nagle "$ECHO_BIN" --broker "$BROKER_URI" --topic "bench/nagle/req/+" --qos "$QOS" --no-nodelay
    wait_for_log cm-echo "$TMP/echo-nagle.log" 'cm-echo: ready' 10
    saved_count=$COUNT saved_warmup=$WARMUP
    COUNT=$((COUNT < 100 ? COUNT : 100)) WARMUP=5 PREFIX=bench/nagle
    measure "echo, Nagle on" agent.ping '' '' 0 --no-nodelay
    COUNT=$saved_count WARMUP=$saved_warmup
fi

# ---- the agent: a fresh database, a tenant administrator for customer.create ----
start_agent
PREFIX=cm/v1
measure agent.ping agent.ping '' '' 200
measure customer.create customer.create '{"title":"Bench {run} {n}"}' "$TA_TOKEN" 200

echo
echo "p50 as a multiple of the echo's p50 at the same window:"
for w in $WINDOWS; do
    for label in agent.ping customer.create; do
        e=${P50[echo/$w]:-} a=${P50[$label/$w]:-}
        [ -n "$e" ] && [ -n "$a" ] || continue
        awk -v l="$label" -v w="$w" -v a="$a" -v e="$e" \
            'BEGIN { if (e > 0) printf "  %-16s window %-4s %6.2fx  (%s ms / %s ms)\n", l, w, a / e, a, e }'
    done
done

exit "$FAILED"
