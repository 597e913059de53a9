#!/usr/bin/env bash
# bench/cascade.sh: deleting a customer that owns a million devices while another tenant keeps
# sending requests, end to end. Starts its own mosquitto on a free 127.0.0.1 port and cmagent with a
# fresh database in a temporary directory; makes two tenants (each with an administrator) through
# the protocol and a customer in each; stops the agent and adds N devices owned by the first
# tenant's customer with `cm-cascade --fill` (one transaction); starts the agent again and then:
#   - the other tenant's customer.get with cm-load, one in flight, before the delete (baseline) and
#     throughout the deletion,
#   - customer.delete of the big customer: its reply time, the time until one of its devices reads
#     unassigned, and the time until the agent has written every row (its log line),
#   - the agent's VmRSS / VmHWM (/proc/PID/status) after start, at the end of the deletion and after.
# Targets: every device unassigned within 5 s, the other tenant's p99 under 100 ms, RSS under 64 MB.
# Everything it started is stopped on exit.
#
# Usage: bench/cascade.sh [-n DEVICES] [-c CHUNK] [BUILD_DIR]
#   BUILD_DIR     where cmagent and cm-* were built (default ./build)
#   -n DEVICES    devices of the deleted customer (default 1000000)
#   -c CHUNK      unassign_chunk_size for the agent (default: the agent's default)
#   -h            show this help
# Exit status: 0 when the run completed (targets are reported, not enforced), 1 on a failure, 2 on usage.
set -euo pipefail

BENCH_NAME=cascade.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

DEVICES=1000000
CHUNK=""
while getopts ":n:c:h" opt; do
    case $opt in
        n) DEVICES=$OPTARG ;;
        c) CHUNK=$OPTARG ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
case $DEVICES in ''|*[!0-9]*|0) echo "cascade.sh: -n wants a positive count" >&2; exit 2 ;; esac
case $CHUNK in *[!0-9]*) echo "cascade.sh: -c wants a positive count" >&2; exit 2 ;; esac

AGENT_BIN=$BUILD/cmagent
LOAD_BIN=$BUILD/bench/cm-load
FILL_BIN=$BUILD/bench/cm-cascade
need_bins "$BUILD" "$AGENT_BIN" "$LOAD_BIN" "$FILL_BIN"
need_mosquitto rr

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# mem PID: "VmRSS x MB, VmHWM y MB"
mem() {
    awk '/^VmRSS|^VmHWM/ { printf "%s%s %.1f MB", sep, substr($1, 1, length($1) - 1), $2 / 1024; sep = ", " }' \
        "/proc/$1/status"
}
# ping_until_up: waits until the agent answers agent.ping
ping_until_up() {
    local r=""
    for _ in $(seq 1 200); do
        r=$(mosquitto_rr -V 5 -h 127.0.0.1 -p "$BROKER_PORT" -W 1 -t cm/v1/req/agent.ping -e "bench/setup/$$" \
            -m '{}' 2>/dev/null || true)
        case $r in *'"status":200'*) return 0 ;; esac
        kill -0 "${PIDS[${#PIDS[@]} - 1]}" 2>/dev/null || { tail -n 20 "$TMP/agent.log" >&2; setup_fail start "the agent exited"; }
    done
    setup_fail start "no agent.ping reply"
}
# load COUNT OUT: the other tenant's customer.get, one in flight, JSON line into OUT
load() {
    "$LOAD_BIN" --broker "$BROKER_URI" --op customer.get --count "$1" --warmup 0 --window 1 --expect-status 200 \
        --data '{"id":"'"$OTHER_CUSTOMER"'"}' --token "$OTHER_TA" --label "$2" --timeout-ms 30000 --json
}

start_broker
start_agent
r=$(rr customer.create '{"token":"'"$TA_TOKEN"'","data":{"title":"Big customer"}}')
BIG=$(json_id <<<"$r"); [ -n "$BIG" ] || setup_fail customer.create "$r"
TENANT=$(sed -n -E 's/.*"tenantId":\{"entityType":"TENANT","id":"([0-9a-f-]{36})".*/\1/p' <<<"$r")
[ -n "$TENANT" ] || setup_fail "customer.create tenantId" "$r"
OTHER_TA=$(tenant_admin "Other tenant" other@bench.local)
[ -n "$OTHER_TA" ] || exit 1
r=$(rr customer.create '{"token":"'"$OTHER_TA"'","data":{"title":"Other customer"}}')
OTHER_CUSTOMER=$(json_id <<<"$r"); [ -n "$OTHER_CUSTOMER" ] || setup_fail customer.create "$r"

forget_last # the agent: stopped for the fill
sed -i -e 's/^log_level .*/log_level info/' "$TMP/cmagent.conf"
[ -z "$CHUNK" ] || echo "unassign_chunk_size $CHUNK" >>"$TMP/cmagent.conf"
"$FILL_BIN" --fill "$TMP/cmagent.db" "$TENANT" "$BIG" "$DEVICES" 2>/dev/null
start_bg agent "$AGENT_BIN" -c "$TMP/cmagent.conf"
AGENT_PID=${PIDS[${#PIDS[@]} - 1]}
ping_until_up
r=$(rr device.list '{"token":"'"$TA_TOKEN"'","data":{"pageSize":1,"page":0,"sortProperty":"name","sortOrder":"DESC"}}')
SAMPLE=$(grep -o -E '"id":\{"entityType":"DEVICE","id":"[0-9a-f-]{36}"' <<<"$r" | head -n 1 | cut -d'"' -f10)
[ -n "$SAMPLE" ] || setup_fail "device.list" "$r"
case $(rr device.get '{"token":"'"$TA_TOKEN"'","data":{"id":"'"$SAMPLE"'"}}') in
    *"$BIG"*) ;; *) setup_fail "device.get" "the sample device is not the big customer's" ;;
esac
echo "database  $DEVICES devices of the deleted customer (filled with cm-cascade --fill); agent log $TMP/agent.log"
echo "memory after start:        $(mem "$AGENT_PID")"

BASE=$(load 2000 "customer.get, other tenant, before")
RATE=$(field throughput_rps "$BASE")
# enough requests to outlast the deletion (about 10 s at the baseline rate), at least 5000
DURING_COUNT=$(awk -v r="$RATE" 'BEGIN { n = int(r * 12); if (n < 5000) n = 5000; print n }')
load "$DURING_COUNT" "customer.get, other tenant, during" >"$TMP/during.json" 2>"$TMP/during.err" &
PIDS+=("$!")
LOAD_PID=$!
sleep 1

T0=$(now_ms)
r=$(rr customer.delete '{"token":"'"$TA_TOKEN"'","data":{"id":"'"$BIG"'"}}')
T_REPLY=$(( $(now_ms) - T0 ))
case $r in *'"status":200'*) ;; *) setup_fail customer.delete "$r" ;; esac
case $(rr device.get '{"token":"'"$TA_TOKEN"'","data":{"id":"'"$SAMPLE"'"}}') in
    *'"customerId":{"entityType":"CUSTOMER","id":"13814000-1dd2-11b2-8080-808080808080"}'*) T_READ=$(( $(now_ms) - T0 )) ;;
    *) setup_fail "device.get after the delete" "the sample device does not read unassigned" ;;
esac
wait_for_log agent "$TMP/agent.log" "Unassigned the .* of deleted customer $BIG" 300 || { FAILED=1; }
T_DONE=$(( $(now_ms) - T0 ))
MEM_DURING=$(mem "$AGENT_PID")
JOB_MS=$(sed -n -E "s/.*Unassigned the ([0-9]+) .* of deleted customer $BIG in ([0-9]+) ms.*/\\2/p" "$TMP/agent.log")
JOB_ROWS=$(sed -n -E "s/.*Unassigned the ([0-9]+) .* of deleted customer $BIG in .*/\\1/p" "$TMP/agent.log")
wait "$LOAD_PID" || FAILED=1
LOAD_END=$(( $(now_ms) - T0 ))
unset 'PIDS[${#PIDS[@]}-1]'
DURING=$(cat "$TMP/during.json")
[ -n "$DURING" ] || { echo "cascade.sh: cm-load printed nothing:" >&2; cat "$TMP/during.err" >&2; exit 1; }
sleep 1
MEM_AFTER=$(mem "$AGENT_PID")

ROW_FMT="%-40s %7s %6s %8s %8s %8s %8s\n"
echo
# shellcheck disable=SC2059
printf "$ROW_FMT" label count errors "req/s" "p50 ms" "p99 ms" "max ms"
for j in "$BASE" "$DURING"; do
    # shellcheck disable=SC2059
    printf "$ROW_FMT" "$(field label "$j")" "$(field count "$j")" "$(field errors "$j")" "$(field throughput_rps "$j")" \
        "$(field p50_ms "$j")" "$(field p99_ms "$j")" "$(field max_ms "$j")"
done
echo
echo "customer.delete reply:                    $T_REPLY ms"
echo "a device of it reads unassigned after:    $T_READ ms (target < 5000)"
echo "every row written unassigned after:       ${JOB_MS:-?} ms by the agent's clock, $T_DONE ms seen here ($JOB_ROWS rows; target < 5000)"
echo "the other tenant's load ran until:        $LOAD_END ms (after the delete was sent; it started 1 s before)"
echo "other tenant p99 during / before:         $(field p99_ms "$DURING") / $(field p99_ms "$BASE") ms (target < 100)"
echo "memory at the end of the deletion:        $MEM_DURING"
echo "memory after:                             $MEM_AFTER (target RSS < 64 MB)"
[ "$LOAD_END" -ge "$T_DONE" ] || echo "note: the load ended before the deletion did; its figures cover part of it only"
exit "$FAILED"
