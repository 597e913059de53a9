#!/usr/bin/env bash
# bench/throughput.sh: durable write throughput and latency of cmagent against the physical floor,
# in one run on one private broker. Starts its own mosquitto on a free 127.0.0.1 port (with
# set_tcp_nodelay true), cm-echo (the floor: an MQTT 5 echo with TCP_NODELAY), and cmagent with a
# fresh database (WAL, synchronous=FULL) in a temporary directory; creates a tenant administrator
# through the protocol; then measures with cm-load:
#   - echo and customer.create with 64 requests in flight (throughput ratio, target >= 0.8),
#   - echo and customer.create with 1 in flight (p50 ratio, target <= 3),
#   - the writer's group-commit batch sizes during those runs (agent.stats),
#   - the CPU time per request of the echo, the agent and mosquitto in the window-64 runs (from
#     /proc/<pid>/stat, all threads),
#   - customer.list first page, a deep page (offset) and a deep page by cursor (pageToken), with
#     1 k customers and then with LIST_ROWS customers.
# Everything it started is stopped on exit.
#
# Usage: bench/throughput.sh [-n COUNT] [-r LIST_ROWS] [-o FILE] [BUILD_DIR]
#   BUILD_DIR     where cmagent and cm-* were built (default ./build)
#   -n COUNT      measured requests per write run (default 20000; window 1 runs use COUNT/10)
#   -r ROWS       customers for the larger listing measurement (default 100000; 0 skips it)
#   -o FILE       also write cm-load's JSON result lines to FILE
#   -h            show this help
# Exit status: 0 when every run got all its replies right and in time, 1 otherwise, 2 on usage.
set -euo pipefail

BENCH_NAME=throughput.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

COUNT=20000
ROWS=100000
OUT=""
while getopts ":n:r:o:h" opt; do
    case $opt in
        n) COUNT=$OPTARG ;;
        r) ROWS=$OPTARG ;;
        o) OUT=$OPTARG ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
case $COUNT in ''|*[!0-9]*|0) echo "throughput.sh: -n wants a positive count" >&2; exit 2 ;; esac
case $ROWS in ''|*[!0-9]*) echo "throughput.sh: -r wants a count" >&2; exit 2 ;; esac

AGENT_BIN=$BUILD/cmagent
ECHO_BIN=$BUILD/bench/cm-echo
LOAD_BIN=$BUILD/bench/cm-load
need_bins "$BUILD" "$AGENT_BIN" "$ECHO_BIN" "$LOAD_BIN"
need_mosquitto rr

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROW_FMT="%-34s %6s %7s %6s %9s %8s %8s %8s %8s\n"
print_header() {
    # shellcheck disable=SC2059
    printf "$ROW_FMT" label window count errors "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms"
}

LAST=""
# run LABEL PREFIX OP COUNT WINDOW EXPECT DATA TOKEN: one cm-load run; its JSON line in $LAST
run() {
    local label=$1 window=$5
    load_args "$@"
    cm_load "${LOAD_ARGS[@]}"
    if [ -z "$LAST" ]; then
        load_failed "$label" "printed nothing"
        return
    fi
    # shellcheck disable=SC2059
    printf "$ROW_FMT" "$label" "$window" "$(field count "$LAST")" "$(field errors "$LAST")" \
        "$(field throughput_rps "$LAST")" "$(field p50_ms "$LAST")" "$(field p90_ms "$LAST")" \
        "$(field p99_ms "$LAST")" "$(field max_ms "$LAST")"
    [ -z "$OUT" ] || echo "$LAST" >>"$OUT"
    [ "$LOAD_RC" -eq 0 ] || load_failed "$label"
}

# us_per COUNT MS_BEFORE MS_AFTER: microseconds of CPU per request
us_per() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", (b - a) * 1000 / n }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

[ -z "$OUT" ] || : >"$OUT"
start_broker "max_queued_messages 100000"
BROKER_PID=${PIDS[${#PIDS[@]} - 1]}
echo "broker    mosquitto on 127.0.0.1:$BROKER_PORT (set_tcp_nodelay true)"
start_bg echo "$ECHO_BIN" --broker "$BROKER_URI" --topic "bench/echo/req/+" --qos 1
ECHO_PID=${PIDS[${#PIDS[@]} - 1]}
wait_for_log cm-echo "$TMP/echo.log" 'cm-echo: ready' 10

start_agent
AGENT_PID=${PIDS[${#PIDS[@]} - 1]}
SYS=$SYS_TOKEN
TA=$TA_TOKEN

W1=$((COUNT / 10))
echo "requests  $COUNT per window-64 run, $W1 per window-1 run (each after 10% warmup); agent database $TMP"
echo
print_header
CREATE='{"title":"tp {run} {n}"}'
E0=$(cpu_ms "$ECHO_PID"); B0=$(cpu_ms "$BROKER_PID")
run "echo (floor)" bench/echo agent.ping "$COUNT" 64 0 "" ""
ECHO64=$LAST
E1=$(cpu_ms "$ECHO_PID"); B1=$(cpu_ms "$BROKER_PID")
rr agent.stats '{"token":"'"$SYS"'"}' >"$TMP/stats0.json"
A0=$(cpu_ms "$AGENT_PID"); B2=$(cpu_ms "$BROKER_PID")
run "agent customer.create" cm/v1 customer.create "$COUNT" 64 200 "$CREATE" "$TA"
AGENT64=$LAST
A1=$(cpu_ms "$AGENT_PID"); B3=$(cpu_ms "$BROKER_PID")
rr agent.stats '{"token":"'"$SYS"'"}' >"$TMP/stats64.json"
# the warm-up requests ran too
RUN64=$((COUNT + COUNT / 10))
run "echo (floor)" bench/echo agent.ping "$W1" 1 0 "" ""
ECHO1=$LAST
run "agent customer.create" cm/v1 customer.create "$W1" 1 200 "$CREATE" "$TA"
AGENT1=$LAST
echo
echo "customer.create / echo, window 64: throughput ratio $(ratio "$(field throughput_rps "$AGENT64")" "$(field throughput_rps "$ECHO64")") (target >= 0.80)"
echo "customer.create / echo, window 1:  p50 ratio $(ratio "$(field p50_ms "$AGENT1")" "$(field p50_ms "$ECHO1")") (target <= 3.00)"
echo "CPU per request at window 64 (microseconds, all threads): echo $(us_per "$RUN64" "$E0" "$E1") with mosquitto" \
     "$(us_per "$RUN64" "$B0" "$B1"); agent $(us_per "$RUN64" "$A0" "$A1") with mosquitto $(us_per "$RUN64" "$B2" "$B3")"
echo
echo "group commit during the window-64 run (agent.stats before and after):"
echo "  before: $(sed -E 's/.*"data":(\{.*\})\}.*/\1/' "$TMP/stats0.json")"
echo "  after:  $(sed -E 's/.*"data":(\{.*\})\}.*/\1/' "$TMP/stats64.json")"

# listings: first page, a deep page by offset, the same depth by cursor
list_runs() {
    local rows=$1 pages=$(( $1 / 20 - 1 )) token
    echo
    echo "customer.list with $rows customers in the tenant (pageSize 20):"
    print_header
    run "list first page ($rows)" cm/v1 customer.list 2000 1 200 '{"pageSize":20,"page":0}' "$TA"
    run "list page $pages by offset ($rows)" cm/v1 customer.list 2000 1 200 '{"pageSize":20,"page":'$pages'}' "$TA"
    # the cursor of the page before the last one: walk with pageToken would take long; take it by offset
    token=$(json_str nextPageToken <<<"$(rr customer.list '{"token":"'"$TA"'","data":{"pageSize":20,"page":'$((pages - 1))'}}')")
    if [ -n "$token" ]; then
        run "list page $pages by cursor ($rows)" cm/v1 customer.list 2000 1 200 '{"pageSize":20,"pageToken":"'"$token"'"}' "$TA"
    fi
}

# fill TOTAL: creates customers until the tenant holds TOTAL
fill() {
    local have=$1 want=$2
    [ "$want" -gt "$have" ] || return 0
    "$LOAD_BIN" --broker "$BROKER_URI" --op customer.create --count "$((want - have))" --window 64 \
        --data '{"title":"fill {run} {n}"}' --token "$TA" --json >"$TMP/fill.out" 2>"$TMP/fill.err" || {
        echo "throughput.sh: filling to $want customers failed:" >&2; cat "$TMP/fill.err" >&2; FAILED=1; }
}

HAVE=$(( COUNT + COUNT / 10 + W1 + W1 / 10 ))
if [ "$HAVE" -lt 1000 ]; then fill "$HAVE" 1000; HAVE=1000; fi
# the 1 k figure on a separate tenant would need a second administrator; the tenant holds what the
# write runs created, so "1 k" is measured on a fresh tenant of exactly 1000
TA_BIG=$TA
TA=$(tenant_admin "Bench 1k" admin2@bench.local)
[ -n "$TA" ] || exit 1
fill 0 1000
list_runs 1000
TA=$TA_BIG
if [ "$ROWS" -gt 0 ]; then
    fill "$HAVE" "$ROWS"
    [ "$ROWS" -gt "$HAVE" ] && HAVE=$ROWS
    list_runs "$HAVE"
fi

exit "$FAILED"
