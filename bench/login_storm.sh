#!/usr/bin/env bash
# bench/login_storm.sh: how much logins slow down another tenant. Starts its own mosquitto on a free
# 127.0.0.1 port, then for each agent binary in turn (the one built in BUILD_DIR, and with -b another
# one, e.g. a build of an older commit, for a before/after comparison in one run), each time with a
# fresh database at the default password hash cost:
#   1. storm: customer.get of another tenant's customer, 1 in flight, on an idle agent, then the
#      same while a second cm-load keeps LOGINS auth.login requests of the system administrator in
#      flight (each one yescrypt hash and check), and the logins/s of that storm, which runs for at
#      least SECONDS. The budgets of anonymous requests are off here (for an agent that has them),
#      so that every login of the storm is hashed.
#   2. flood: a tenant administrator's logins, FLOOD of them sent at once by one client, then (the
#      agent restarted with the -x lines) another tenant's logins, MEASURED of them, 1 in flight,
#      each by another of its users; then the same while one client keeps SUSTAIN logins of the
#      first tenant in flight all along. Each is compared with the same logins on the idle agent:
#      the extra delay is their p50 and p99 less the idle p50.
# Everything it started is stopped on exit.
#
# Usage: bench/login_storm.sh [-n COUNT] [-l LOGINS] [-s SECONDS] [-f FLOOD] [-F SUSTAIN] [-m MEASURED]
#                             [-x LINE]... [-b OTHER_AGENT] [-o FILE] [BUILD_DIR]
#   BUILD_DIR       where cmagent and cm-load were built (default ./build)
#   -n COUNT        measured customer.get requests per run (default 40; before the hashing moved
#                   off the writer each one waits about LOGINS hashes, so keep it small)
#   -l LOGINS       logins in flight during the storm (default 10)
#   -s SECONDS      the shortest storm, for its logins/s (default 10)
#   -f FLOOD        logins of the flood sent at once (default 10000)
#   -F SUSTAIN      logins of the sustained flood in flight (default 200)
#   -m MEASURED     the other tenant's logins measured per flood (default 20)
#   -x LINE         a configuration line for the flood's agent, e.g. -x 'auth_rate_per_email 0'
#                   (repeatable; only for an agent that knows auth_rate_per_client: an older one
#                   would refuse the key)
#   -b OTHER_AGENT  also measure this cmagent binary, after the one of BUILD_DIR
#   -o FILE         also write cm-load's JSON result lines to FILE
#   -h              show this help
# Exit status: 0 when every customer.get and every measured login got its reply right and in time,
# 1 otherwise, 2 on usage.
set -euo pipefail

BENCH_NAME=login_storm.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

COUNT=40
LOGINS=10
SECONDS_MIN=10
FLOOD=10000
SUSTAIN=200
MEASURED=20
EXTRA=()
OTHER=""
OUT=""
while getopts ":n:l:s:f:F:m:x:b:o:h" opt; do
    case $opt in
        n) COUNT=$OPTARG ;;
        l) LOGINS=$OPTARG ;;
        s) SECONDS_MIN=$OPTARG ;;
        f) FLOOD=$OPTARG ;;
        F) SUSTAIN=$OPTARG ;;
        m) MEASURED=$OPTARG ;;
        x) EXTRA+=("$OPTARG") ;;
        b) OTHER=$OPTARG ;;
        o) OUT=$OPTARG ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
for v in "-n:$COUNT" "-l:$LOGINS" "-f:$FLOOD" "-F:$SUSTAIN" "-m:$MEASURED"; do
    case ${v#*:} in ''|*[!0-9]*|0) echo "login_storm.sh: ${v%%:*} wants a positive count" >&2; exit 2 ;; esac
done
case $SECONDS_MIN in ''|*[!0-9]*) echo "login_storm.sh: -s wants a number of seconds" >&2; exit 2 ;; esac

LOAD_BIN=$BUILD/bench/cm-load
AGENTS=("$BUILD/cmagent")
[ -z "$OTHER" ] || AGENTS+=("$OTHER")
need_bins "$BUILD" "$LOAD_BIN" "${AGENTS[@]}"
need_mosquitto rr

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
declare -A P50 P99 EXTRA50 EXTRA99 EXTRAMAX
OTHER_PASSWORD=Bench-other-$RANDOM$RANDOM

ROW_FMT="%-10s %-34s %7s %7s %6s %9s %9s %9s %9s\n"
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

# measure LABEL CM-LOAD-ARGS...: one measured cm-load run in the foreground (1 in flight); prints its
# JSON line, marks the run failed on bad replies
measure() {
    local label=$1 rc=0
    shift
    "$LOAD_BIN" --broker "$BROKER_URI" --window 1 --timeout-ms 600000 --label "$label" --json "$@" \
        >"$TMP/measure.out" 2>"$TMP/measure.err" &
    PIDS+=("$!")
    wait "$!" || rc=$?
    forget_last
    [ "$rc" -eq 0 ] || { FAILED=1; sed 's/^/    /' "$TMP/measure.err" >&2; }
    cat "$TMP/measure.out"
}

# fast LABEL: COUNT customer.get requests of the other tenant's customer
fast() {
    measure "$1" --op customer.get --data "{\"id\":\"$CUSTOMER\"}" --token "$TA_TOKEN" --count "$COUNT" --warmup 2
}

# other_logins LABEL: MEASURED logins of the other tenant, one user each
other_logins() {
    measure "$1" --op auth.login --count "$MEASURED" \
        --data "{\"email\":\"other-{n}-$$@bench.local\",\"password\":\"$OTHER_PASSWORD\"}"
}

# knows_budgets: whether AGENT_BIN has the budgets of anonymous requests (configuration keys)
knows_budgets() { "$AGENT_BIN" --defaults 2>/dev/null | grep -q '^# auth_rate_per_client '; }

# flood_start WINDOW COUNT LABEL: one client keeps WINDOW logins of the flooded tenant's
# administrator in flight, COUNT in all; stopped by forget_last
flood_start() {
    start_bg flood "$LOAD_BIN" --broker "$BROKER_URI" --op auth.login --window "$1" --count "$2" \
        --data "{\"email\":\"$TA_EMAIL\",\"password\":\"$TA_PASSWORD\"}" --timeout-ms 600000 --label "$3" --json
}

# extra NAME JSON IDLE_P50: records the extra delay of a measured run over the idle p50
extra() {
    EXTRA50[$1]=$(awk -v a="$(field p50_ms "$2")" -v e="$3" 'BEGIN { printf "%.1f", a - e }')
    EXTRA99[$1]=$(awk -v a="$(field p99_ms "$2")" -v e="$3" 'BEGIN { printf "%.1f", a - e }')
    EXTRAMAX[$1]=$(awk -v a="$(field max_ms "$2")" -v e="$3" 'BEGIN { printf "%.1f", a - e }')
}

storm_phase() {
    local name=$1 r idle busy left storm_start
    AGENT_EXTRA=()
    knows_budgets && AGENT_EXTRA=("auth_rate_per_client 0" "auth_rate_per_email 0")
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
    forget_last  # the agent
}

flood_phase() {
    local name=$1 idle idle_p50 burst sustained other_tenant i
    AGENT_EXTRA=()
    knows_budgets && AGENT_EXTRA=("${EXTRA[@]}")
    start_agent
    r=$(rr tenant.create "{\"token\":\"$SYS_TOKEN\",\"data\":{\"title\":\"Other tenant\"}}")
    other_tenant=$(json_id <<<"$r"); [ -n "$other_tenant" ] || setup_fail tenant.create "$r"
    for ((i = 1; i <= MEASURED; i++)); do
        [ -n "$(admin_of "$other_tenant" "other-$i-$$@bench.local" "$OTHER_PASSWORD")" ] || setup_fail admin_of "user $i"
    done

    idle=$(other_logins "other tenant's login, idle")
    row "$name" "other tenant's login, idle" "$idle"
    idle_p50=$(field p50_ms "$idle")

    flood_start "$FLOOD" "$FLOOD" "flood of $FLOOD logins at once"
    sleep 1  # all sent
    burst=$(other_logins "other tenant's login, after flood")
    forget_last
    row "$name" "other tenant's login, flood sent" "$burst"
    row "$name" "the flood ($FLOOD logins at once)" "$(tail -n 1 "$TMP/flood.log")"
    extra "$name/burst" "$burst" "$idle_p50"

    flood_start "$SUSTAIN" 100000000 "flood of $SUSTAIN logins in flight"
    sleep 2  # the flood's window is full
    sustained=$(other_logins "other tenant's login, sustained flood")
    forget_last
    row "$name" "other tenant's login, sustained" "$sustained"
    row "$name" "the flood ($SUSTAIN in flight)" "$(tail -n 1 "$TMP/flood.log")"
    extra "$name/sustained" "$sustained" "$idle_p50"
    forget_last  # the agent
}

[ -z "$OUT" ] || : >"$OUT"
start_broker
echo "broker    mosquitto on 127.0.0.1:$BROKER_PORT; customer.get x $COUNT at window 1, storm of $LOGINS logins" \
     "in flight; floods of $FLOOD logins at once and of $SUSTAIN in flight, $MEASURED logins of another tenant"
[ ${#EXTRA[@]} -eq 0 ] || echo "flood's agent configuration: ${EXTRA[*]}"
echo
print_header
n=0
for AGENT_BIN in "${AGENTS[@]}"; do
    n=$((n + 1))
    storm_phase "agent$n"
    flood_phase "agent$n"
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
echo "the other tenant's login during a flood, extra delay over its idle p50 (ms):"
for ((i = 1; i <= n; i++)); do
    for mode in burst sustained; do
        printf "  %-8s %-10s p50 %9s   p99 %9s   max %9s\n" "agent$i" "$mode" "${EXTRA50[agent$i/$mode]}" \
            "${EXTRA99[agent$i/$mode]}" "${EXTRAMAX[agent$i/$mode]}"
    done
done
exit "$FAILED"
