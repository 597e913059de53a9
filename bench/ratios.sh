#!/usr/bin/env bash
# bench/ratios.sh: the four ratios of cmagent to its physical floor, side by side in one run on one
# broker. Starts mosquitto on a free 127.0.0.1 port with the settings of config/mosquitto.conf, two
# cm-echo floors (the plain echo: request and reply; the three-message echo: request, reply and an
# event, the QoS 1 messages of a customer.create), and cmagent with a fresh database in a temporary
# directory; then, RUNS times, measures with cm-load (QoS 1, 10% warm-up before each measured run)
# and cm-fsync (4 KiB pwrite + fdatasync in the database's directory):
#   1. customer.create, 64 in flight, throughput / the three-message echo's    goal >= 0.8
#   2. customer.get, 64 in flight, throughput / the plain echo's               goal >= 0.9
#   3. customer.create, 1 in flight, p50 / (echo p50 + fsync p50)              goal <= 1.3
#   4. agent.ping, 1 in flight, p50 / echo p50                                 goal <= 1.2
# and prints one line per run, then a table of the medians with each ratio's min / median / max.
# Everything it started is stopped on exit; nothing but 127.0.0.1 is used.
#
# Usage: bench/ratios.sh [-r RUNS] [-n COUNT] [-m COUNT1] [-s] [-S] [-o FILE] [BUILD_DIR]
#   BUILD_DIR  where cmagent and bench/cm-* were built (default ./build)
#   -r RUNS    repetitions of the whole set (default 3)
#   -n COUNT   measured requests per 64-in-flight run (default 10000)
#   -m COUNT1  measured requests per 1-in-flight run and fsync rounds (default 2000)
#   -s         smoke mode: 1 run, 300 and 100 requests (checks the instrument, measures nothing)
#   -S         strict: exit 1 when a median ratio misses its goal
#   -o FILE    also write every cm-load and cm-fsync JSON line to FILE
#   -h         show this help
# Exit status: 0 when every run got all its replies right and in time (and, with -S, every goal is
# met), 1 otherwise, 2 on a usage error. Takes about 20 s per run on an idle 2-core machine.
set -euo pipefail

BENCH_NAME=ratios.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

RUNS=3
N64=10000
N1=2000
STRICT=0
OUT=""
while getopts ":r:n:m:sSo:h" opt; do
    case $opt in
        r) RUNS=$OPTARG ;;
        n) N64=$OPTARG ;;
        m) N1=$OPTARG ;;
        s) RUNS=1 N64=300 N1=100 ;;
        S) STRICT=1 ;;
        o) OUT=$OPTARG ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
for v in "$RUNS" "$N64" "$N1"; do
    case $v in ''|*[!0-9]*|0) echo "ratios.sh: -r, -n and -m want positive counts, not '$v'" >&2; exit 2 ;; esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AGENT_BIN=$BUILD/cmagent
ECHO_BIN=$BUILD/bench/cm-echo
LOAD_BIN=$BUILD/bench/cm-load
FSYNC_BIN=$BUILD/bench/cm-fsync
need_bins "$BUILD" "$AGENT_BIN" "$ECHO_BIN" "$LOAD_BIN" "$FSYNC_BIN"
need_mosquitto rr

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

LAST=""
# load LABEL PREFIX OP COUNT WINDOW EXPECT DATA TOKEN: one cm-load run; its JSON line in $LAST
load() { load_recorded "$@"; }

# fsync_probe LABEL WRAP: cm-fsync in the database's directory; its JSON line in $LAST
fsync_probe() {
    local rc=0
    "$FSYNC_BIN" --count "$N1" --wrap "$2" --label "$1" --json "$TMP" >"$TMP/fsync.out" 2>"$TMP/fsync.err" || rc=$?
    LAST=$(cat "$TMP/fsync.out")
    [ -z "$OUT" ] || [ -z "$LAST" ] || echo "$LAST" >>"$OUT"
    if [ "$rc" -ne 0 ] || [ -z "$LAST" ]; then
        echo "ratios.sh: cm-fsync failed (exit $rc):" >&2
        sed 's/^/    /' "$TMP/fsync.err" >&2
        FAILED=1
        LAST='{"p50_ms":0}'
    fi
}


# CPU per request at 64 in flight of the responder, mosquitto and cm-load, "label" -> "r b l" µs
declare -A CPU
# load64 KEY RESPONDER_PID LOAD ARGS...: load with the CPU the responder and mosquitto used around it
load64() {
    local key=$1 pid=$2 r0 b0 n
    shift 2
    r0=$(cpu_ms "$pid"); b0=$(cpu_ms "$BROKER_PID")
    load "$@"
    n=$(( $4 + $4 / 10 ))
    CPU[$key]+="$(awk -v r=$(( $(cpu_ms "$pid") - r0 )) -v b=$(( $(cpu_ms "$BROKER_PID") - b0 )) \
        -v l="$(field cpu_ms "$LAST")" -v n="$n" 'BEGIN { printf "%.0f %.0f %.0f;", r * 1000 / n, b * 1000 / n, l * 1000 / n }')"
}

[ -z "$OUT" ] || : >"$OUT"
start_broker_conf "$HERE/../config/mosquitto.conf"
BROKER_PID=${PIDS[${#PIDS[@]} - 1]}
start_bg echo "$ECHO_BIN" --broker "$BROKER_URI" --topic "bench/echo/req/+" --qos 1
wait_for_log cm-echo "$TMP/echo.log" 'cm-echo: ready' 10
ECHO_PID=${PIDS[${#PIDS[@]} - 1]}
start_bg echo3 "$ECHO_BIN" --broker "$BROKER_URI" --topic "bench/echo3/req/+" --qos 1 \
    --event-topic "bench/echo3/event/CUSTOMER/ENTITY_CREATED"
wait_for_log cm-echo "$TMP/echo3.log" 'cm-echo: ready' 10
ECHO3_PID=${PIDS[${#PIDS[@]} - 1]}
start_agent
AGENT_PID=${PIDS[${#PIDS[@]} - 1]}
r=$(rr customer.create "{\"token\":\"$TA_TOKEN\",\"data\":{\"title\":\"Ratio probe\"}}")
CUSTOMER_ID=$(json_id <<<"$r")
[ -n "$CUSTOMER_ID" ] || setup_fail customer.create "$r"

echo "broker    mosquitto on 127.0.0.1:$BROKER_PORT, settings of config/mosquitto.conf"
echo "requests  $N64 per 64-in-flight run, $N1 per 1-in-flight run and fsync probe (each after 10% warm-up), $RUNS run(s)"
echo "database  $TMP (the fsync probe writes there too); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-4s %12s %12s %12s %12s %9s %9s %9s %9s %9s %9s\n' run "create/s" "echo3/s" "get/s" "echo/s" \
    "echo1 ms" "fsync ms" "create1" "ping1" "agent µs" "agent µs"
printf '%-4s %12s %12s %12s %12s %9s %9s %9s %9s %9s %9s\n' "" "(64)" "(64)" "(64)" "(64)" p50 p50 p50 p50 \
    "/create64" "/create1"

CREATE='{"title":"ratio {run} {n}"}'
GET="{\"id\":\"$CUSTOMER_ID\"}"
declare -a R1 R2 R3 R4 V_CREATE V_ECHO3 V_GET V_ECHO V_CREATE1 V_FLOOR1 V_PING1 V_ECHO1 V_FSYNC V_FSYNCW V_R3W
for ((run = 1; run <= RUNS; run++)); do
    load64 echo3 "$ECHO3_PID" "echo3 64" bench/echo3 agent.ping "$N64" 64 0 '{"title":"ratio {run} {n}"}' ""
    echo3=$(field throughput_rps "$LAST")
    a0=$(cpu_ms "$AGENT_PID")
    load64 create "$AGENT_PID" "customer.create 64" cm/v1 customer.create "$N64" 64 200 "$CREATE" "$TA_TOKEN"
    a1=$(cpu_ms "$AGENT_PID")
    create=$(field throughput_rps "$LAST")
    load64 echo "$ECHO_PID" "echo 64" bench/echo agent.ping "$N64" 64 0 "$GET" ""
    echo64=$(field throughput_rps "$LAST")
    load64 get "$AGENT_PID" "customer.get 64" cm/v1 customer.get "$N64" 64 200 "$GET" "$TA_TOKEN"
    get=$(field throughput_rps "$LAST")
    load "echo 1" bench/echo agent.ping "$N1" 1 0 "$CREATE" ""
    echo1=$(field p50_ms "$LAST")
    fsync_probe "fsync append" 0
    fsync=$(field p50_ms "$LAST")
    fsync_probe "fsync overwrite" 64
    fsyncw=$(field p50_ms "$LAST")
    a2=$(cpu_ms "$AGENT_PID")
    load "customer.create 1" cm/v1 customer.create "$N1" 1 200 "$CREATE" "$TA_TOKEN"
    a3=$(cpu_ms "$AGENT_PID")
    create1=$(field p50_ms "$LAST")
    load "agent.ping 1" cm/v1 agent.ping "$N1" 1 200 "" ""
    ping1=$(field p50_ms "$LAST")
    # CPU per create, warm-up included (it ran too)
    cpu64=$(awk -v d=$((a1 - a0)) -v n=$((N64 + N64 / 10)) 'BEGIN { printf "%.0f", d * 1000 / n }')
    cpu1=$(awk -v d=$((a3 - a2)) -v n=$((N1 + N1 / 10)) 'BEGIN { printf "%.0f", d * 1000 / n }')
    printf '%-4s %12s %12s %12s %12s %9s %9s %9s %9s %9s %9s\n' "$run" "$create" "$echo3" "$get" "$echo64" \
        "$echo1" "$fsync" "$create1" "$ping1" "$cpu64" "$cpu1"
    R1+=("$(awk -v a="$create" -v b="$echo3" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
    R2+=("$(awk -v a="$get" -v b="$echo64" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
    R3+=("$(awk -v a="$create1" -v e="$echo1" -v f="$fsync" 'BEGIN { printf "%.3f", (e + f > 0 ? a / (e + f) : 0) }')")
    R4+=("$(awk -v a="$ping1" -v b="$echo1" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
    V_CREATE+=("$create") V_ECHO3+=("$echo3") V_GET+=("$get") V_ECHO+=("$echo64")
    V_CREATE1+=("$create1") V_PING1+=("$ping1") V_ECHO1+=("$echo1") V_FSYNC+=("$fsync") V_FSYNCW+=("$fsyncw")
    V_FLOOR1+=("$(awk -v e="$echo1" -v f="$fsync" 'BEGIN { printf "%.3f", e + f }')")
    V_R3W+=("$(awk -v a="$create1" -v e="$echo1" -v f="$fsyncw" 'BEGIN { printf "%.3f", (e + f > 0 ? a / (e + f) : 0) }')")
done

# stats V...: "min median max" of the values
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s %s %s", v[1], m, v[NR] }'; }
median() { stats "$@" | cut -d' ' -f2; }
MISSED=0
# row FIGURE AGENT FLOOR_TEXT FLOOR GOAL_OP GOAL UNIT RATIOS...
row() {
    local figure=$1 agent=$2 floor_text=$3 floor=$4 op=$5 goal=$6 unit=$7 s met
    shift 7
    s=$(stats "$@")
    met=$(awk -v m="$(cut -d' ' -f2 <<<"$s")" -v g="$goal" -v op="$op" \
        'BEGIN { ok = (op == ">=" && m >= g) || (op == "<=" && m <= g); print (ok ? "met" : "not met") }')
    [ "$met" = met ] || MISSED=1
    printf '| %-34s | %12s | %-40s | %19s | %6s | %-7s |\n' "$figure" "$agent $unit" "$floor_text $floor $unit" \
        "$(awk '{ printf "%.2f / %.2f / %.2f", $1, $2, $3 }' <<<"$s")" "$op $goal" "$met"
}

echo
echo "medians over $RUNS run(s); ratio min / median / max over the runs:"
echo
printf '| %-34s | %12s | %-40s | %19s | %6s | %-7s |\n' figure cmagent floor "ratio min/med/max" goal median
echo "|------------------------------------|--------------|------------------------------------------|---------------------|--------|---------|"
row "customer.create, 64 in flight" "$(median "${V_CREATE[@]}")" "three-message echo" "$(median "${V_ECHO3[@]}")" \
    ">=" 0.8 "req/s" "${R1[@]}"
row "customer.get, 64 in flight" "$(median "${V_GET[@]}")" "echo" "$(median "${V_ECHO[@]}")" \
    ">=" 0.9 "req/s" "${R2[@]}"
row "customer.create, 1 in flight, p50" "$(median "${V_CREATE1[@]}")" \
    "echo $(median "${V_ECHO1[@]}") + fsync $(median "${V_FSYNC[@]}") =" "$(median "${V_FLOOR1[@]}")" \
    "<=" 1.3 "ms" "${R3[@]}"
row "agent.ping, 1 in flight, p50" "$(median "${V_PING1[@]}")" "echo" "$(median "${V_ECHO1[@]}")" \
    "<=" 1.2 "ms" "${R4[@]}"
echo
echo "fsync over allocated blocks (a reused WAL): p50 $(median "${V_FSYNCW[@]}") ms; create at 1 in flight against" \
     "echo + that: ratio $(stats "${V_R3W[@]}" | awk '{ printf "%.2f / %.2f / %.2f", $1, $2, $3 }')"

echo
echo "CPU per request at 64 in flight (µs, user + system, all threads, warm-up included; medians):"
printf '  %-24s %10s %10s %10s %10s\n' load responder mosquitto cm-load sum
for key in echo3 create echo get; do
    IFS=';' read -r -a samples <<<"${CPU[$key]}"
    r=() b=() l=() t=()
    for x in "${samples[@]}"; do
        read -r xr xb xl <<<"$x"
        r+=("$xr") b+=("$xb") l+=("$xl") t+=("$((xr + xb + xl))")
    done
    case $key in
        echo3) name="three-message echo" ;; create) name="customer.create" ;;
        echo) name="echo" ;; get) name="customer.get" ;;
    esac
    printf '  %-24s %10s %10s %10s %10s\n' "$name" "$(median "${r[@]}")" "$(median "${b[@]}")" "$(median "${l[@]}")" \
        "$(median "${t[@]}")"
done

if [ "$FAILED" -ne 0 ]; then
    exit 1
fi
if [ "$STRICT" -eq 1 ] && [ "$MISSED" -ne 0 ]; then
    exit 1
fi
exit 0
