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

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

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
        h) usage; exit 0 ;;
        :) echo "latency.sh: -$OPTARG needs a value" >&2; exit 2 ;;
        *) echo "latency.sh: unknown option -$OPTARG (try -h)" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || { echo "latency.sh: at most one BUILD_DIR argument (try -h)" >&2; exit 2; }
case $COUNT in ''|*[!0-9]*|0) echo "latency.sh: -n wants a positive count" >&2; exit 2 ;; esac
case $QOS in 0|1|2) ;; *) echo "latency.sh: -q wants 0, 1 or 2" >&2; exit 2 ;; esac
for w in $WINDOWS; do
    case $w in ''|*[!0-9]*|0) echo "latency.sh: -w wants positive windows, not '$w'" >&2; exit 2 ;; esac
done
[ -n "${WINDOWS// /}" ] || { echo "latency.sh: -w wants at least one window" >&2; exit 2; }

BUILD=${1:-./build}
ECHO_BIN=$BUILD/bench/cm-echo
LOAD_BIN=$BUILD/bench/cm-load
AGENT_BIN=$BUILD/cmagent
for b in "$ECHO_BIN" "$LOAD_BIN" "$AGENT_BIN"; do
    [ -x "$b" ] || { echo "latency.sh: $b not found; build first (cmake --build $BUILD)" >&2; exit 2; }
done
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
[ -x "$MOSQUITTO" ] || { echo "latency.sh: mosquitto not found (set MOSQUITTO=/path/to/mosquitto)" >&2; exit 2; }
command -v mosquitto_rr >/dev/null || { echo "latency.sh: mosquitto_rr not found (apt-get install mosquitto-clients)" >&2; exit 2; }

WARMUP=$((COUNT / 10))
PREFIX=""    # the topic prefix measure() sends to; set before each responder's measure lines
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cm-latency.XXXXXX")
PIDS=()      # every process this script started, stopped in reverse order on exit
FAILED=0
declare -A P50  # "label/window" -> p50 ms, for the ratios printed at the end

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
    local i pid
    trap - INT TERM EXIT
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg NAME CMD...: runs CMD in the background, output in $TMP/NAME.log, stopped on exit
start_bg() {
    local name=$1
    shift
    "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=("$!")
}

# forget_last: drops the last process started from PIDS once it is gone, so that its number, which
# the system may hand out again, is never signalled by cleanup
forget_last() {
    local pid=${PIDS[${#PIDS[@]} - 1]}
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'PIDS[${#PIDS[@]}-1]'
}

# wait_for_log NAME FILE PATTERN SECONDS: waits until FILE holds PATTERN; fails if the last process
# started is gone or time runs out
wait_for_log() {
    local name=$1 file=$2 pattern=$3 secs=$4 i
    for ((i = 0; i < secs * 20; i++)); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        if ! kill -0 "${PIDS[${#PIDS[@]} - 1]}" 2>/dev/null; then
            echo "latency.sh: $name exited early:" >&2
            tail -n 20 "$file" >&2 || true
            return 1
        fi
        sleep 0.05
    done
    echo "latency.sh: $name not ready after ${secs}s:" >&2
    tail -n 20 "$file" >&2 || true
    return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- broker: a free port on 127.0.0.1, tried until mosquitto binds one ----
start_broker() {
    local attempt port
    for attempt in 1 2 3 4 5 6 7 8; do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$port" && continue
        cat >"$TMP/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence false
EOF
        start_bg mosquitto "$MOSQUITTO" -c "$TMP/mosquitto.conf"
        if wait_for_log mosquitto "$TMP/mosquitto.log" ' running$' 5 2>/dev/null; then
            BROKER_PORT=$port
            BROKER_URI=tcp://127.0.0.1:$port
            return 0
        fi
        forget_last
        echo "latency.sh: mosquitto did not start on port $port (attempt $attempt), retrying" >&2
    done
    echo "latency.sh: could not start mosquitto:" >&2
    tail -n 20 "$TMP/mosquitto.log" >&2 || true
    return 1
}

# field NAME JSON: a scalar field of cm-load's flat --json line
field() { sed -n -E "s/.*\"$1\":(\"[^\"]*\"|[^,}]*).*/\\1/p" <<<"$2" | tr -d '"'; }

ROW_FMT="%-24s %6s %4s %7s %6s %6s %10s %9s %9s %9s %9s\n"
print_header() {
    # shellcheck disable=SC2059
    printf "$ROW_FMT" label window qos count errors tmouts "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms"
}

# measure LABEL OP DATA TOKEN [EXPECT_STATUS [cm-load options...]]: one cm-load run per window
# against $PREFIX/req/OP; DATA and TOKEN may be empty; EXPECT_STATUS defaults to 200 (0 for echo)
measure() {
    local label=$1 op=$2 data=$3 token=$4 expect=${5:-200} w out rc
    local -a args
    shift 4
    [ $# -gt 0 ] && shift
    for w in $WINDOWS; do
        args=(--broker "$BROKER_URI" --prefix "$PREFIX" --op "$op" --count "$COUNT" --warmup "$WARMUP"
              --window "$w" --qos "$QOS" --expect-status "$expect" --label "$label" --json)
        [ -n "$data" ] && args+=(--data "$data")
        [ -n "$token" ] && args+=(--token "$token")
        # in the background, so that a signal to this script stops the run at once (cleanup)
        "$LOAD_BIN" "${args[@]}" "$@" >"$TMP/load.out" 2>"$TMP/load.err" &
        PIDS+=("$!")
        rc=0
        wait "$!" || rc=$?
        forget_last
        out=$(cat "$TMP/load.out")
        report_row "$label" "$out" "$rc"
    done
}

report_row() {
    local label=$1 out=$2 rc=$3
    if [ -z "$out" ]; then
        echo "latency.sh: cm-load for '$label' printed nothing (exit $rc):" >&2
        cat "$TMP/load.err" >&2
        FAILED=1
        return
    fi
    # shellcheck disable=SC2059
    printf "$ROW_FMT" "$label" "$(field window "$out")" "$(field qos "$out")" "$(field count "$out")" \
        "$(field errors "$out")" "$(field timeouts "$out")" "$(field throughput_rps "$out")" \
        "$(field p50_ms "$out")" "$(field p90_ms "$out")" "$(field p99_ms "$out")" "$(field max_ms "$out")"
    [ -z "$OUT" ] || echo "$out" >>"$OUT"
    P50[$label/$(field window "$out")]=$(field p50_ms "$out")
    if [ "$rc" -ne 0 ]; then
        FAILED=1
        sed 's/^/    /' "$TMP/load.err" >&2
    fi
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
# rr OP JSON: one request to the agent through mosquitto_rr (MQTT 5), the reply on stdout
rr() {
    mosquitto_rr -V 5 -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -W 10 -t "cm/v1/req/$1" -e "bench/setup/$$" -m "$2"
}
# json_str KEY: the first string value of KEY in the JSON on stdin
json_str() { sed -n -E "s/.*\"$1\":\"([^\"]*)\".*/\\1/p" | head -n 1; }
# json_id: the first entity id ({"entityType":...,"id":"<uuid>"}) in the JSON on stdin
json_id() { grep -o -E '"id":"[0-9a-f-]{36}"' | head -n 1 | cut -d'"' -f4; }
setup_fail() { echo "latency.sh: agent setup failed at $1: $2" >&2; exit 1; }

SYS_PW=bench-$RANDOM$RANDOM
TA_PW=Bench-$RANDOM$RANDOM
cat >"$TMP/cmagent.conf" <<EOF
broker $BROKER_URI
database $TMP/cmagent.db
agent_id bench-$$
sysadmin_email sysadmin@bench.local
sysadmin_password $SYS_PW
log_level warning
EOF
start_bg agent "$AGENT_BIN" -c "$TMP/cmagent.conf"
r=""
for _ in $(seq 1 100); do
    r=$(mosquitto_rr -V 5 -h 127.0.0.1 -p "$BROKER_PORT" -W 1 -t cm/v1/req/agent.ping -e "bench/setup/$$" -m '{}' 2>/dev/null || true)
    case $r in *'"status":200'*) break ;; esac
    kill -0 "${PIDS[${#PIDS[@]} - 1]}" 2>/dev/null || { tail -n 20 "$TMP/agent.log" >&2; setup_fail start "the agent exited"; }
done
case $r in *'"status":200'*) ;; *) setup_fail start "no agent.ping reply" ;; esac

r=$(rr auth.login "{\"data\":{\"email\":\"sysadmin@bench.local\",\"password\":\"$SYS_PW\"}}")
SYS_TOKEN=$(json_str token <<<"$r"); [ -n "$SYS_TOKEN" ] || setup_fail auth.login "$r"
r=$(rr tenant.create "{\"token\":\"$SYS_TOKEN\",\"data\":{\"title\":\"Bench tenant\"}}")
TENANT_ID=$(json_id <<<"$r"); [ -n "$TENANT_ID" ] || setup_fail tenant.create "$r"
r=$(rr user.create "{\"token\":\"$SYS_TOKEN\",\"data\":{\"email\":\"admin@bench.local\",\"authority\":\"TENANT_ADMIN\",\"tenantId\":\"$TENANT_ID\"}}")
USER_ID=$(json_id <<<"$r"); [ -n "$USER_ID" ] || setup_fail user.create "$r"
r=$(rr user.activationLink "{\"token\":\"$SYS_TOKEN\",\"data\":{\"id\":\"$USER_ID\"}}")
ACT=$(sed -n -E 's/.*activateToken=([A-Za-z0-9_-]+).*/\1/p' <<<"$r"); [ -n "$ACT" ] || setup_fail user.activationLink "$r"
r=$(rr auth.activate "{\"data\":{\"activateToken\":\"$ACT\",\"password\":\"$TA_PW\"}}")
TA_TOKEN=$(json_str token <<<"$r"); [ -n "$TA_TOKEN" ] || setup_fail auth.activate "$r"

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
