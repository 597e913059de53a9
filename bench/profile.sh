#!/usr/bin/env bash
# bench/profile.sh: where a request's time goes in cmagent, under the loads of bench/ratios.sh. On
# one broker with the settings of config/mosquitto.conf (free 127.0.0.1 port) it runs the agent with
# a fresh database three ways, each under agent.ping at 1 in flight, customer.create at 1 and at 64
# in flight, and customer.get at 64 in flight (cm-load, QoS 1, 10% warm-up):
#   1. natively: CPU per request of the agent (/proc/PID/stat, all threads) and, from agent.stats,
#      the transactions, requests per transaction and time in COMMIT (the WAL write and its fsync);
#   2. under `perf record -e cpu-clock` (sampling; this VM has no hardware counters) when perf
#      works: microseconds of CPU per request by library and by function, kernel included;
#   3. under valgrind's callgrind (counts instructions, so the figures do not move with the load of
#      the machine): instructions per request by thread, by library, by agent function, and calls
#      per request of the functions that mark a cost (SQL statements stepped, JSON rendered,
#      messages published, threads woken, syncs), from bench/cg_summary.py; then the same for
#      cm-echo (plain at 1 in flight, three-message at 64): paho's own cost per message.
# Everything it started is stopped on exit.
#
# Usage: bench/profile.sh [-n COUNT] [-m COUNT1] [-c COUNT_CG] [-k] [BUILD_DIR]
#   BUILD_DIR  where cmagent and bench/cm-* were built (default ./build)
#   -n COUNT   measured requests at 64 in flight, natively and under perf (default 10000)
#   -m COUNT1  measured requests at 1 in flight, natively and under perf (default 2000)
#   -c COUNT   measured requests per load under callgrind (default 1000; 0 skips callgrind)
#   -P         skip perf
#   -k         keep the temporary directory (perf.data and callgrind files) and print its name
#   -h         show this help
# Exit status: 0 when every load got its replies, 1 otherwise, 2 on a usage error. Takes about two
# minutes on an idle 2-core machine, most of it under callgrind.
set -euo pipefail

BENCH_NAME=profile.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

N64=10000
N1=2000
NCG=1000
PERF=1
KEEP=0
while getopts ":n:m:c:Pkh" opt; do
    case $opt in
        n) N64=$OPTARG ;;
        m) N1=$OPTARG ;;
        c) NCG=$OPTARG ;;
        P) PERF=0 ;;
        k) KEEP=1 ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
for v in "$N64" "$N1"; do
    case $v in ''|*[!0-9]*|0) echo "profile.sh: -n and -m want positive counts, not '$v'" >&2; exit 2 ;; esac
done
case $NCG in ''|*[!0-9]*) echo "profile.sh: -c wants a count" >&2; exit 2 ;; esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
REAL_AGENT=$BUILD/cmagent
LOAD_BIN=$BUILD/bench/cm-load
need_bins "$BUILD" "$REAL_AGENT" "$LOAD_BIN"
need_mosquitto
if [ "$PERF" = 1 ] && ! perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
    echo "profile.sh: perf record does not work here (scripts/deps installs linux-perf); skipping perf" >&2
    PERF=0
fi
if [ "$NCG" -gt 0 ] && ! command -v valgrind >/dev/null; then
    echo "profile.sh: valgrind not found (scripts/deps installs it); skipping callgrind" >&2
    NCG=0
fi

[ "$KEEP" = 0 ] || BENCH_KEEP=1
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
[ "$KEEP" = 0 ] || echo "files kept in $TMP"

LAST=""
# load LABEL OP COUNT WINDOW DATA TOKEN [TIMEOUT_MS]: one cm-load run against the agent (or, with
# PREFIX and EXPECT=0, an echo); JSON in $LAST
load() {
    load_args "$1" "${PREFIX:-cm/v1}" "$2" "$3" "$4" "${EXPECT:-200}" "$5" "$6"
    cm_load "${LOAD_ARGS[@]}" --timeout-ms "${7:-10000}"
    if [ -z "$LAST" ] || [ "$LOAD_RC" -ne 0 ]; then
        load_failed "$1"
    fi
}

user_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", $14 * 1000 / hz }' "/proc/$1/stat"; }
# stat NAME JSON: a number of agent.stats' reply
stat_of() { grep -o -E "\"$1\":[0-9.]+" <<<"$2" | head -n 1 | cut -d: -f2; }
stats_now() { rr agent.stats "{\"token\":\"$SYS_TOKEN\"}"; }

CREATE='{"title":"profile {run} {n}"}'
# the loads, as "LABEL OP WINDOW"
LOADS=("ping1 agent.ping 1" "create1 customer.create 1" "create64 customer.create 64" "get64 customer.get 64")
# data_of OP: sets data and token for a load of OP
data_of() {
    data=""; token=""
    case $1 in
        customer.create) data=$CREATE; token=$TA_TOKEN ;;
        customer.get) data="{\"id\":\"$CUSTOMER_ID\"}"; token=$TA_TOKEN ;;
    esac
}
# a customer for customer.get, after each start_agent
make_customer() {
    local r
    r=$(rr customer.create "{\"token\":\"$TA_TOKEN\",\"data\":{\"title\":\"Profile probe\"}}")
    CUSTOMER_ID=$(json_id <<<"$r")
    [ -n "$CUSTOMER_ID" ] || setup_fail customer.create "$r"
}
count_of() { if [ "$1" = 64 ]; then echo "$N64"; else echo "$N1"; fi; }

start_broker_conf "$HERE/../config/mosquitto.conf"
echo "broker    mosquitto on 127.0.0.1:$BROKER_PORT, settings of config/mosquitto.conf"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# ---- 1. natively ----
AGENT_BIN=$REAL_AGENT
start_agent
AGENT_PID=${PIDS[${#PIDS[@]} - 1]}
make_customer
echo
echo "== natively: CPU per request (all the agent's threads, warm-up included) and group commit"
printf '%-9s %8s %9s %9s %10s %10s %12s %12s %12s\n' load count "req/s" "p50 ms" "cpu µs/req" "user µs" transactions "req/transact" "commit µs/tx"
for spec in "${LOADS[@]}"; do
    read -r label op window <<<"$spec"
    n=$(count_of "$window")
    data_of "$op"
    s0=$(stats_now); c0=$(cpu_ms "$AGENT_PID"); u0=$(user_ms "$AGENT_PID")
    load "$label" "$op" "$n" "$window" "$data" "$token"
    c1=$(cpu_ms "$AGENT_PID"); u1=$(user_ms "$AGENT_PID"); s1=$(stats_now)
    total=$((n + n / 10))
    b=$(( $(stat_of transactions "$s1") - $(stat_of transactions "$s0") ))
    q=$(( $(stat_of requests "$s1") - $(stat_of requests "$s0") ))
    cu=$(awk -v a="$(stat_of commitUsTotal "$s1")" -v b="$(stat_of commitUsTotal "$s0")" 'BEGIN { printf "%.0f", a - b }')
    printf '%-9s %8s %9s %9s %10s %10s %12s %12s %12s\n' "$label" "$n" "$(field throughput_rps "$LAST")" \
        "$(field p50_ms "$LAST")" "$(awk -v d=$((c1 - c0)) -v n="$total" 'BEGIN { printf "%.0f", d * 1000 / n }')" \
        "$(awk -v d=$((u1 - u0)) -v n="$total" 'BEGIN { printf "%.0f", d * 1000 / n }')" \
        "$b" "$(awk -v q="$q" -v b="$b" 'BEGIN { printf "%.1f", b ? q / b : 0 }')" \
        "$(awk -v c="$cu" -v b="$b" 'BEGIN { printf "%.0f", b ? c / b : 0 }')"
done

if [ -x "$BUILD/bench/cm-fsync" ]; then
    echo "disk      $("$BUILD/bench/cm-fsync" --count "$N1" "$TMP")"
    echo "          $("$BUILD/bench/cm-fsync" --count "$N1" --wrap 64 --label "fsync, reused blocks" "$TMP")"
fi

# ---- 2. under perf ----
if [ "$PERF" = 1 ]; then
    for spec in "${LOADS[@]}"; do
        read -r label op window <<<"$spec"
        n=$(count_of "$window")
        data_of "$op"
        perf record -q -e cpu-clock -F 4999 -g -p "$AGENT_PID" -o "$TMP/perf.$label.data" >"$TMP/perf.$label.log" 2>&1 &
        PIDS+=("$!")
        sleep 0.5 # perf attaches to every thread
        load "$label" "$op" "$n" "$window" "$data" "$token"
        kill -INT "${PIDS[${#PIDS[@]} - 1]}" 2>/dev/null || true
        wait "${PIDS[${#PIDS[@]} - 1]}" 2>/dev/null || true
        unset 'PIDS[${#PIDS[@]}-1]'
        total=$((n + n / 10))
        perf report -i "$TMP/perf.$label.data" --stdio --children -n -g none --sort sym >"$TMP/perf.$label.incl" 2>/dev/null || true
        perf report -i "$TMP/perf.$label.data" --stdio --no-children -n -g none --sort dso >"$TMP/perf.$label.dso" 2>/dev/null || true
        perf report -i "$TMP/perf.$label.data" --stdio --no-children -n -g none --sort dso,sym >"$TMP/perf.$label.sym" 2>/dev/null || true
        samples=$(awk '/^#/ || NF < 3 { next } { s += $2 } END { print s + 0 }' "$TMP/perf.$label.dso")
        echo
        echo "== perf, $label: $samples samples of cpu-clock at 4999 Hz over $total requests (the sampling's own cost included)"
        echo "-- per library (µs of CPU per request)"
        awk -v n="$total" '/^#/ || NF < 3 { next } { printf "   %-28s %7s  %7.1f µs/req\n", $3, $1, $2 / 4999 * 1e6 / n; if (++k == 9) exit }' \
            "$TMP/perf.$label.dso"
        echo "-- the kernel by system call, and the scheduler, inclusive (µs of CPU per request)"
        awk -v n="$total" -v hz=4999 '/^#/ || NF < 5 { next }
            $5 ~ /^(__x64_sys_|__do_sys_|finish_task_switch|schedule$|asm_sysvec|asm_common_interrupt|irq_exit|handle_softirqs)/ {
                sub(/\.isra\.0$/, "", $5);
                if (!seen[$5]++) printf "   %-44s %7s  %7.1f µs/req\n", $5, $1, $1 / 100 * tot / hz * 1e6 / n }
            ' tot="$samples" "$TMP/perf.$label.incl" | head -n 16
        echo "-- per function, its own time (top 25)"
        awk -v n="$total" '/^#/ || NF < 5 { next } { s = $5; for (i = 6; i <= NF; i++) s = s " " $i;
                printf "   %-44s %-16s %7s  %7.1f µs/req\n", substr(s, 1, 44), substr($3, 1, 16), $1, $2 / 4999 * 1e6 / n;
                if (++k == 25) exit }' "$TMP/perf.$label.sym"
    done
fi

# ---- 3. under callgrind ----
if [ "$NCG" -gt 0 ]; then
    forget_last # the native agent
    cat >"$TMP/agent-callgrind" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$TMP/cg.out" "$REAL_AGENT" "\$@"
EOF
    chmod +x "$TMP/agent-callgrind"
    AGENT_BIN=$TMP/agent-callgrind
    start_agent
    AGENT_PID=${PIDS[${#PIDS[@]} - 1]}
    make_customer
    dump=0
    echo
    echo "== under callgrind: $NCG measured requests per load (instructions count the same however loaded the machine is)"
    for spec in "${LOADS[@]}"; do
        read -r label op window <<<"$spec"
        data_of "$op"
        # a warm-up outside the counted window, then zero, the measured load (its own 10% warm-up
        # counted), dump
        load "$label warm-up" "$op" "$((NCG / 10 + 1))" "$window" "$data" "$token" 60000
        callgrind_control -z "$AGENT_PID" >/dev/null
        load "$label" "$op" "$NCG" "$window" "$data" "$token" 60000
        callgrind_control -d "$label" "$AGENT_PID" >/dev/null
        dump=$((dump + 1))
        sleep 1
        files=$(ls "$TMP/cg.out.$dump"-* 2>/dev/null | sort)
        [ -n "$files" ] || { echo "profile.sh: no callgrind dump for $label" >&2; FAILED=1; continue; }
        # shellcheck disable=SC2086
        /usr/bin/python3 "$HERE/cg_summary.py" "$((NCG + NCG / 10))" \
            "$label (window $window)" $files
        echo
    done
fi
# ---- the floors under callgrind: paho's own cost per message, for comparison ----
if [ "$NCG" -gt 0 ] && [ -x "$BUILD/bench/cm-echo" ]; then
    forget_last # the agent under callgrind
    for spec in "echo1 bench/echo 1" "echo3-64 bench/echo3 64"; do
        read -r label prefix window <<<"$spec"
        extra=()
        [ "$label" = echo1 ] || extra=(--event-topic bench/echo3/event/CUSTOMER/ENTITY_CREATED)
        start_bg "$label" valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$TMP/cg-$label.out" \
            "$BUILD/bench/cm-echo" --broker "$BROKER_URI" --topic "$prefix/req/+" --qos 1 "${extra[@]}"
        wait_for_log cm-echo "$TMP/$label.log" 'cm-echo: ready' 60
        pid=${PIDS[${#PIDS[@]} - 1]}
        PREFIX=$prefix EXPECT=0 load "$label warm-up" agent.ping "$((NCG / 10 + 1))" "$window" "$CREATE" "" 60000
        callgrind_control -z "$pid" >/dev/null
        PREFIX=$prefix EXPECT=0 load "$label" agent.ping "$NCG" "$window" "$CREATE" "" 60000
        callgrind_control -d "$label" "$pid" >/dev/null
        sleep 1
        files=$(ls "$TMP/cg-$label.out.1"-* 2>/dev/null | sort)
        [ -n "$files" ] || { echo "profile.sh: no callgrind dump for $label" >&2; FAILED=1; continue; }
        # shellcheck disable=SC2086
        /usr/bin/python3 "$HERE/cg_summary.py" "$((NCG + NCG / 10))" "cm-echo, $label (window $window)" $files |
            sed -n '1,/^-- calls from one library/p' | sed '$d'
        echo
        forget_last
    done
fi
exit "$FAILED"
