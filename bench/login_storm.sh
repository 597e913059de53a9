#!/usr/bin/env bash
# bench/login_storm.sh: how much a burst of logins slows down another tenant's requests. Starts its
# own mosquitto on a free 127.0.0.1 port, then for each agent binary in turn (the one built in
# BUILD_DIR, and with -b another one, e.g. a build of an older commit, for a before/after ratio in
# one run): the agent with a fresh database at the default password hash cost, a tenant
# administrator (the other tenant) and one of its customers; then with cm-load:
#   - customer.get of that customer, 1 in flight, on an idle agent,
#   - the same while a second cm-load keeps LOGINS auth.login requests of the system administrator
#     in flight (each one yescrypt hash and check, about 100 ms), and the logins/s of that storm,
#     which runs for at least SECONDS.
# Everything it started is stopped on exit.
#
# Usage: bench/login_storm.sh [-n COUNT] [-l LOGINS] [-s SECONDS] [-b OTHER_AGENT] [-o FILE] [BUILD_DIR]
#   BUILD_DIR       where cmagent and cm-load were built (default ./build)
#   -n COUNT        measured customer.get requests per run (default 40; before the hashing moved
#                   off the writer each one waits about LOGINS hashes, so keep it small)
#   -l LOGINS       logins in flight during the storm (default 10)
#   -s SECONDS      the shortest storm, for its logins/s (default 10)
#   -b OTHER_AGENT  also measure this cmagent binary, after the one of BUILD_DIR
#   -o FILE         also write cm-load's JSON result lines to FILE
#   -h              show this help
# Exit status: 0 when every customer.get got its reply right and in time, 1 otherwise, 2 on usage.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

COUNT=40
LOGINS=10
SECONDS_MIN=10
OTHER=""
OUT=""
while getopts ":n:l:s:b:o:h" opt; do
    case $opt in
        n) COUNT=$OPTARG ;;
        l) LOGINS=$OPTARG ;;
        s) SECONDS_MIN=$OPTARG ;;
        b) OTHER=$OPTARG ;;
        o) OUT=$OPTARG ;;
        h) usage; exit 0 ;;
        :) echo "login_storm.sh: -$OPTARG needs a value" >&2; exit 2 ;;
        *) echo "login_storm.sh: unknown option -$OPTARG (try -h)" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || { echo "login_storm.sh: at most one BUILD_DIR argument (try -h)" >&2; exit 2; }
case $COUNT in ''|*[!0-9]*|0) echo "login_storm.sh: -n wants a positive count" >&2; exit 2 ;; esac
case $LOGINS in ''|*[!0-9]*|0) echo "login_storm.sh: -l wants a positive count" >&2; exit 2 ;; esac
case $SECONDS_MIN in ''|*[!0-9]*) echo "login_storm.sh: -s wants a number of seconds" >&2; exit 2 ;; esac

BUILD=${1:-./build}
LOAD_BIN=$BUILD/bench/cm-load
AGENTS=("$BUILD/cmagent")
[ -z "$OTHER" ] || AGENTS+=("$OTHER")
for b in "$LOAD_BIN" "${AGENTS[@]}"; do
    [ -x "$b" ] || { echo "login_storm.sh: $b not found; build first (cmake --build $BUILD)" >&2; exit 2; }
done
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
[ -x "$MOSQUITTO" ] || { echo "login_storm.sh: mosquitto not found (set MOSQUITTO=/path/to/mosquitto)" >&2; exit 2; }
command -v mosquitto_rr >/dev/null || { echo "login_storm.sh: mosquitto_rr not found (apt-get install mosquitto-clients)" >&2; exit 2; }

BENCH_NAME=login_storm.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
declare -A P50 P99

ROW_FMT="%-10s %-26s %6s %6s %6s %9s %9s %9s %9s\n"
print_header() {
    # shellcheck disable=SC2059
    printf "$ROW_FMT" agent label replies errors tmouts "req/s" "p50 ms" "p99 ms" "max ms"
}

# row AGENT LABEL JSON: one result line
row() {
    # shellcheck disable=SC2059
    printf "$ROW_FMT" "$1" "$2" "$(field replies "$3")" "$(field errors "$3")" "$(field timeouts "$3")" \
        "$(field throughput_rps "$3")" "$(field p50_ms "$3")" "$(field p99_ms "$3")" "$(field max_ms "$3")"
    [ -z "$OUT" ] || echo "$3" >>"$OUT"
}

# fast LABEL: COUNT customer.get requests, 1 in flight; prints the JSON line, fails on bad replies
fast() {
    local rc=0
    "$LOAD_BIN" --broker "$BROKER_URI" --op customer.get --data "{\"id\":\"$CUSTOMER\"}" --token "$TA_TOKEN" \
        --count "$COUNT" --warmup 2 --window 1 --timeout-ms 120000 --label "$1" --json \
        >"$TMP/fast.out" 2>"$TMP/fast.err" &
    PIDS+=("$!")
    wait "$!" || rc=$?
    forget_last
    [ "$rc" -eq 0 ] || { FAILED=1; sed 's/^/    /' "$TMP/fast.err" >&2; }
    cat "$TMP/fast.out"
}

[ -z "$OUT" ] || : >"$OUT"
start_broker
echo "broker    mosquitto on 127.0.0.1:$BROKER_PORT; customer.get x $COUNT at window 1, storm of $LOGINS logins in flight"
echo
print_header
n=0
for AGENT_BIN in "${AGENTS[@]}"; do
    n=$((n + 1))
    name=agent$n
    start_agent
    r=$(rr customer.create "{\"token\":\"$TA_TOKEN\",\"data\":{\"title\":\"Other tenant's customer\"}}")
    CUSTOMER=$(json_id <<<"$r"); [ -n "$CUSTOMER" ] || setup_fail customer.create "$r"

    idle=$(fast "customer.get idle")
    row "$name" "customer.get, idle" "$idle"

    start_bg storm "$LOAD_BIN" --broker "$BROKER_URI" --op auth.login --count 1000000 --window "$LOGINS" \
        --data "{\"email\":\"sysadmin@bench.local\",\"password\":\"$SYS_PASSWORD\"}" --timeout-ms 600000 \
        --label "auth.login storm" --json
    storm_start=$(date +%s)
    sleep 1  # the storm's window is full
    busy=$(fast "customer.get during storm")
    left=$((storm_start + SECONDS_MIN - $(date +%s)))
    [ "$left" -le 0 ] || sleep "$left"
    forget_last  # stops the storm, which reports what it measured
    row "$name" "customer.get, login storm" "$busy"
    row "$name" "auth.login (the storm)" "$(tail -n 1 "$TMP/storm.log")"
    P50[$name]=$(field p50_ms "$busy") P99[$name]=$(field p99_ms "$busy")
    P50[$name/idle]=$(field p50_ms "$idle")

    # stop this agent (the last process but the storm, already gone) before the next one
    forget_last
done

echo
echo "customer.get during the storm, as a multiple of the same agent idle (p50):"
for ((i = 1; i <= n; i++)); do
    awk -v l="agent$i" -v a="${P50[agent$i]}" -v e="${P50[agent$i/idle]}" \
        'BEGIN { if (e > 0) printf "  %-8s %8.1fx  (%s ms / %s ms)\n", l, a / e, a, e }'
done
if [ "$n" -eq 2 ]; then
    echo "customer.get during the storm, agent2 / agent1:"
    awk -v a="${P50[agent2]}" -v b="${P50[agent1]}" -v c="${P99[agent2]}" -v d="${P99[agent1]}" \
        'BEGIN { if (b > 0 && d > 0) printf "  p50 %.0fx (%s ms / %s ms), p99 %.0fx (%s ms / %s ms)\n", a / b, a, b, c / d, c, d }'
fi
exit "$FAILED"
