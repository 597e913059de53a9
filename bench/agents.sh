#!/usr/bin/env bash
# bench/agents.sh: one agent on SQLite, one agent on PostgreSQL, and two and three agents on one
# PostgreSQL database behind one $share group, side by side in one run on one broker. Starts
# mosquitto on a free 127.0.0.1 port with the settings of config/mosquitto.conf and a PostgreSQL
# cluster of its own in a temporary directory (its defaults: fsync and synchronous_commit on, so a
# commit waits for the disk as SQLite's synchronous=FULL does); then, for each setup in turn, a
# fresh database (an SQLite file, or a new PostgreSQL database), its agents, and RUNS times, with
# cm-load (QoS 1, 10% warm-up before each measured run):
#   customer.create, 64 in flight        throughput
#   customer.get, 64 in flight           throughput
#   customer.create, 1 in flight         p50 and throughput
# with the CPU each process used per request (user + system, all threads, from /proc/<pid>/stat
# before and after, warm-up included): the agents, the PostgreSQL server (every process of it:
# the agents' backends, the WAL writer, the checkpointer, autovacuum), mosquitto and cm-load.
# Prints one line per run, then the medians and the CPU tables. Everything it started is stopped on
# exit; nothing but 127.0.0.1 is used.
#
# Usage: bench/agents.sh [-r RUNS] [-n COUNT] [-m COUNT1] [-c SETUPS] [-s] [-o FILE] [BUILD_DIR]
#   BUILD_DIR  where cmagent and bench/cm-load were built (default ./build)
#   -r RUNS    repetitions of the three loads per setup (default 3)
#   -n COUNT   measured requests per 64-in-flight run (default 10000)
#   -m COUNT1  measured requests per 1-in-flight run (default 2000)
#   -c SETUPS  which setups, in order (default "sqlite pg1 pg2 pg3": SQLite, then 1, 2, 3 agents
#              on PostgreSQL)
#   -s         smoke mode: 1 run, 300 and 100 requests (checks the instrument, measures nothing)
#   -o FILE    also write every cm-load JSON line to FILE
#   -h         show this help
# Exit status: 0 when every run got all its replies right and in time, 1 otherwise, 2 on a usage
# error. Takes about 3 minutes with the defaults on an idle 2-core machine.
set -euo pipefail

BENCH_NAME=agents.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

RUNS=3
N64=10000
N1=2000
SETUPS="sqlite pg1 pg2 pg3"
OUT=""
while getopts ":r:n:m:c:so:h" opt; do
    case $opt in
        r) RUNS=$OPTARG ;;
        n) N64=$OPTARG ;;
        m) N1=$OPTARG ;;
        c) SETUPS=$OPTARG ;;
        s) RUNS=1 N64=300 N1=100 ;;
        o) OUT=$OPTARG ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
for v in "$RUNS" "$N64" "$N1"; do
    case $v in ''|*[!0-9]*|0) echo "agents.sh: -r, -n and -m want positive counts, not '$v'" >&2; exit 2 ;; esac
done
for s in $SETUPS; do
    case $s in sqlite|pg1|pg2|pg3) ;; *) echo "agents.sh: unknown setup '$s' (sqlite, pg1, pg2, pg3)" >&2; exit 2 ;; esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AGENT_BIN=$BUILD/cmagent
LOAD_BIN=$BUILD/bench/cm-load
need_bins "$BUILD" "$AGENT_BIN" "$LOAD_BIN"
need_mosquitto rr
command -v mosquitto_sub >/dev/null || { echo "agents.sh: mosquitto_sub not found (mosquitto-clients)" >&2; exit 2; }

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

LAST=""
# load LABEL PREFIX OP COUNT WINDOW EXPECT DATA TOKEN: one cm-load run; its JSON line in $LAST
load() { load_recorded "$@"; }

AGENT_PIDS=()
# agents_cpu_ms: the CPU of every agent of the setup so far, summed
agents_cpu_ms() {
    local pid t=0
    for pid in "${AGENT_PIDS[@]}"; do t=$((t + $(cpu_ms "$pid"))); done
    echo "$t"
}
server_cpu_ms() { if [ -n "${PG_POSTMASTER:-}" ]; then pg_cpu_ms; else echo 0; fi; }

# CPU per request, "setup load" -> "agents postgres mosquitto cm-load;" per run, µs
declare -A CPU V
# measured KEY LABEL PREFIX OP COUNT WINDOW EXPECT DATA TOKEN: load with the CPU of every process
# around it; the figures in CPU[KEY] and the throughput and p50 in V[KEY]
measured() {
    local key=$1 a0 p0 b0 n
    shift
    a0=$(agents_cpu_ms); p0=$(server_cpu_ms); b0=$(cpu_ms "$BROKER_PID")
    load "$@"
    n=$(($4 + $4 / 10))
    CPU[$key]+="$(awk -v a=$(($(agents_cpu_ms) - a0)) -v p=$(($(server_cpu_ms) - p0)) \
        -v b=$(($(cpu_ms "$BROKER_PID") - b0)) -v l="$(field cpu_ms "$LAST")" -v n="$n" \
        'BEGIN { printf "%.0f %.0f %.0f %.0f;", a * 1000 / n, p * 1000 / n, b * 1000 / n, l * 1000 / n }')"
    V[$key]+="$(field throughput_rps "$LAST") $(field p50_ms "$LAST");"
}

# run_setup SETUP: its database and agents, RUNS times the three loads, then its agents stopped
run_setup() {
    local setup=$1 members=1 i r customer
    AGENT_EXTRA=("reader_threads 2")
    unset AGENT_DB
    case $setup in
        pg*)
            members=${setup#pg}
            AGENT_DB=$(pg_database "cm_$setup")
            [ "$members" -eq 1 ] || AGENT_EXTRA+=("share_group bench")
            ;;
    esac
    start_agent
    AGENT_PIDS=("${PIDS[${#PIDS[@]} - 1]}")
    for ((i = 2; i <= members; i++)); do
        start_member "$i"
        AGENT_PIDS+=("$MEMBER_PID")
    done
    r=$(rr customer.create "{\"token\":\"$TA_TOKEN\",\"data\":{\"title\":\"Agents probe\"}}")
    customer=$(json_id <<<"$r")
    [ -n "$customer" ] || setup_fail customer.create "$r"
    for ((run = 1; run <= RUNS; run++)); do
        measured "$setup c64" "$setup customer.create 64" cm/v1 customer.create "$N64" 64 200 \
            '{"title":"agents {run} {n}"}' "$TA_TOKEN"
        measured "$setup g64" "$setup customer.get 64" cm/v1 customer.get "$N64" 64 200 "{\"id\":\"$customer\"}" "$TA_TOKEN"
        measured "$setup c1" "$setup customer.create 1" cm/v1 customer.create "$N1" 1 200 \
            '{"title":"agents {run} {n}"}' "$TA_TOKEN"
        printf '%-7s %4s %14s %14s %14s %12s\n' "$setup" "$run" \
            "$(last_of "$setup c64" 1)" "$(last_of "$setup g64" 1)" "$(last_of "$setup c1" 1)" "$(last_of "$setup c1" 2)"
    done
    for ((i = ${#AGENT_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${AGENT_PIDS[i]}"; done
    AGENT_PIDS=()
}

# last_of KEY FIELD: field FIELD (1 throughput, 2 p50) of KEY's last run
last_of() { tr ';' '\n' <<<"${V[$1]}" | grep . | tail -n 1 | cut -d' ' -f"$2"; }
# median_of KEY FIELD: the median of field FIELD over KEY's runs
median_of() {
    tr ';' '\n' <<<"${V[$1]}" | grep . | cut -d' ' -f"$2" | sort -g |
        awk '{ v[NR] = $1 } END { printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# cpu_medians KEY: "agents postgres mosquitto cm-load sum", each the median over KEY's runs
cpu_medians() {
    local col out=""
    for col in 1 2 3 4 5; do
        out+="$(tr ';' '\n' <<<"${CPU[$1]}" | grep . | awk -v c="$col" '{ print (c == 5 ? $1 + $2 + $3 + $4 : $c) }' |
            sort -g | awk '{ v[NR] = $1 } END { printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }') "
    done
    echo "$out"
}
describe() {
    case $1 in
        sqlite) echo "1 agent, SQLite" ;; pg1) echo "1 agent, PostgreSQL" ;;
        pg2) echo "2 agents, PostgreSQL, \$share" ;; pg3) echo "3 agents, PostgreSQL, \$share" ;;
    esac
}

[ -z "$OUT" ] || : >"$OUT"
start_broker_conf "$HERE/../config/mosquitto.conf"
BROKER_PID=${PIDS[${#PIDS[@]} - 1]}
case " $SETUPS " in *" pg"*) start_postgres ;; esac

echo "broker    mosquitto on 127.0.0.1:$BROKER_PORT, settings of config/mosquitto.conf"
[ -z "${PG_PORT:-}" ] || echo "postgres  $("$PG_BIN/postgres" --version) on 127.0.0.1:$PG_PORT, its defaults (fsync on, synchronous_commit on), data in $TMP/pg"
echo "requests  $N64 per 64-in-flight run, $N1 per 1-in-flight run (each after 10% warm-up), $RUNS run(s) per setup"
echo "machine   $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo
printf '%-7s %4s %14s %14s %14s %12s\n' setup run "create/s (64)" "get/s (64)" "create/s (1)" "create1 p50"
for setup in $SETUPS; do
    run_setup "$setup"
done
echo
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; medians over $RUNS run(s):"
echo
printf '| %-31s | %15s | %15s | %15s | %11s |\n' setup "create/s, 64" "get/s, 64" "create/s, 1" "create1 p50"
echo "|---------------------------------|-----------------|-----------------|-----------------|-------------|"
for setup in $SETUPS; do
    printf '| %-31s | %15s | %15s | %15s | %8s ms |\n' "$(describe "$setup")" "$(median_of "$setup c64" 1)" \
        "$(median_of "$setup g64" 1)" "$(median_of "$setup c1" 1)" "$(median_of "$setup c1" 2)"
done
for load in c64 g64 c1; do
    case $load in
        c64) name="customer.create, 64 in flight" ;; g64) name="customer.get, 64 in flight" ;;
        c1) name="customer.create, 1 in flight" ;;
    esac
    echo
    echo "CPU per request, $name (µs, user + system, all threads, warm-up included; medians):"
    echo
    printf '| %-31s | %8s | %10s | %9s | %7s | %7s |\n' setup agents postgres mosquitto cm-load sum
    echo "|---------------------------------|----------|------------|-----------|---------|---------|"
    for setup in $SETUPS; do
        read -r a p b l t <<<"$(cpu_medians "$setup $load")"
        printf '| %-31s | %8s | %10s | %9s | %7s | %7s |\n' "$(describe "$setup")" "$a" "$p" "$b" "$l" "$t"
    done
done

if [ "$FAILED" -ne 0 ]; then
    exit 1
fi
exit 0
