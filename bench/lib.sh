# bench/lib.sh: what the benchmark scripts share, sourced by them (not run): the processes they
# start and stop on exit, a private mosquitto on a free 127.0.0.1 port, the agent with a fresh
# database and a tenant administrator made through the protocol, more agents on the same database
# behind a share group, a private PostgreSQL cluster, and reading cm-load's JSON lines.
# The sourcing script sets BENCH_NAME (for messages) before sourcing, and MOSQUITTO, AGENT_BIN;
# with BENCH_KEEP set (to anything) the temporary directory is left in place at exit.

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cm-$BENCH_NAME.XXXXXX")
PIDS=()      # every process the script started, stopped in reverse order on exit
FAILED=0

# shellcheck disable=SC2317  # reached through the trap
bench_cleanup() {
    local i pid
    trap - INT TERM EXIT
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    [ -z "${PG_DATA:-}" ] || pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg NAME CMD...: runs CMD in the background, output in $TMP/NAME.log, stopped on exit
start_bg() {
    local name=$1
    shift
    "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=("$!")
}

# forget_last: stops the last process started and drops it from PIDS, so that its number, which the
# system may hand out again, is never signalled by the cleanup
forget_last() {
    local pid=${PIDS[${#PIDS[@]} - 1]}
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'PIDS[${#PIDS[@]}-1]'
}

# stop_pid PID: stops a process the script started and drops it from PIDS (see forget_last)
stop_pid() {
    local i
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for i in "${!PIDS[@]}"; do
        [ "${PIDS[i]}" != "$1" ] || unset 'PIDS[i]'
    done
    PIDS=("${PIDS[@]}")
}

# wait_for_log NAME FILE PATTERN SECONDS: waits until FILE holds PATTERN; fails if the last process
# started is gone or time runs out
wait_for_log() {
    local name=$1 file=$2 pattern=$3 secs=$4 i
    for ((i = 0; i < secs * 20; i++)); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        if ! kill -0 "${PIDS[${#PIDS[@]} - 1]}" 2>/dev/null; then
            echo "$BENCH_NAME: $name exited early:" >&2
            tail -n 20 "$file" >&2 || true
            return 1
        fi
        sleep 0.05
    done
    echo "$BENCH_NAME: $name not ready after ${secs}s:" >&2
    tail -n 20 "$file" >&2 || true
    return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# broker_on_free_port WRITE_CONF ARGS...: mosquitto on a free port of 127.0.0.1, its configuration
# written by `WRITE_CONF PORT ARGS...` to $TMP/mosquitto.conf; a few ports are tried; sets BROKER_PORT
# and BROKER_URI
broker_on_free_port() {
    local write_conf=$1 attempt port
    shift
    for attempt in 1 2 3 4 5 6 7 8; do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$port" && continue
        "$write_conf" "$port" "$@" >"$TMP/mosquitto.conf"
        start_bg mosquitto "$MOSQUITTO" -c "$TMP/mosquitto.conf"
        if wait_for_log mosquitto "$TMP/mosquitto.log" ' running$' 5 2>/dev/null; then
            BROKER_PORT=$port
            BROKER_URI=tcp://127.0.0.1:$port
            return 0
        fi
        forget_last
        echo "$BENCH_NAME: mosquitto did not start on port $port (attempt $attempt), retrying" >&2
    done
    echo "$BENCH_NAME: could not start mosquitto:" >&2
    tail -n 20 "$TMP/mosquitto.log" >&2 || true
    return 1
}

# plain_conf PORT [CONF_LINE...]: an anonymous listener on PORT with set_tcp_nodelay true, no
# persistence, and the extra lines
plain_conf() {
    echo "listener $1 127.0.0.1"
    echo "allow_anonymous true"
    echo "set_tcp_nodelay true"
    echo "persistence false"
    shift
    printf '%s\n' "$@"
}

# file_conf PORT FILE: FILE's settings with its listeners replaced by PORT and its persistence in $TMP
file_conf() {
    echo "listener $1 127.0.0.1"
    grep -v -E '^[[:space:]]*(listener|port|bind_address|persistence_location|log_dest)([[:space:]]|$)' "$2"
    echo "persistence_location $TMP/mosquitto-data/"
    echo "log_dest stderr"
}

# start_broker [CONF_LINE...]: mosquitto on a free port of 127.0.0.1 with set_tcp_nodelay true and
# the given extra configuration lines; sets BROKER_PORT and BROKER_URI
start_broker() { broker_on_free_port plain_conf "$@"; }

# start_broker_conf FILE: mosquitto on a free port of 127.0.0.1 with the settings of the
# configuration FILE (config/mosquitto.conf), its listeners replaced by that port and its persistence
# kept in $TMP; sets BROKER_PORT and BROKER_URI
start_broker_conf() {
    local conf=$1
    [ -r "$conf" ] || { echo "$BENCH_NAME: cannot read $conf" >&2; return 1; }
    mkdir -p "$TMP/mosquitto-data"
    # mosquitto started as root runs as the user mosquitto: let it reach its data directory
    if [ "$(id -u)" -eq 0 ]; then chmod 711 "$TMP"; chmod 777 "$TMP/mosquitto-data"; fi
    broker_on_free_port file_conf "$conf"
}

# load_args LABEL PREFIX OP COUNT WINDOW EXPECT DATA TOKEN [WARMUP]: the usual cm-load arguments in
# LOAD_ARGS (WARMUP defaults to a tenth of COUNT; DATA and TOKEN only when not empty)
load_args() {
    LOAD_ARGS=(--prefix "$2" --op "$3" --count "$4" --warmup "${9:-$(($4 / 10))}" --window "$5"
               --expect-status "$6" --label "$1")
    [ -z "$7" ] || LOAD_ARGS+=(--data "$7")
    [ -z "$8" ] || LOAD_ARGS+=(--token "$8")
}

# cm_load ARGS...: one cm-load run on the broker with ARGS, in the background so that a signal to the
# script stops it at once; its JSON line in LAST, its exit status in LOAD_RC, its errors in
# $TMP/load.err
cm_load() {
    LOAD_RC=0
    "$LOAD_BIN" --broker "$BROKER_URI" --json "$@" >"$TMP/load.out" 2>"$TMP/load.err" &
    PIDS+=("$!")
    wait "$!" || LOAD_RC=$?
    forget_last
    LAST=$(cat "$TMP/load.out")
}

# load_failed LABEL [WHAT]: says that cm-load for LABEL failed (WHAT, default "failed") with its errors
load_failed() {
    echo "$BENCH_NAME: cm-load for '$1' ${2:-failed} (exit $LOAD_RC):" >&2
    sed 's/^/    /' "$TMP/load.err" >&2
    FAILED=1
}

# load_recorded LABEL PREFIX OP COUNT WINDOW EXPECT DATA TOKEN: one cm-load run with the usual
# arguments; its JSON line in LAST (also appended to $OUT when set), a line of zeros when it failed
load_recorded() {
    load_args "$@"
    cm_load "${LOAD_ARGS[@]}"
    [ -z "${OUT:-}" ] || [ -z "$LAST" ] || echo "$LAST" >>"$OUT"
    if [ -z "$LAST" ] || [ "$LOAD_RC" -ne 0 ]; then
        load_failed "$1"
        [ -n "$LAST" ] || LAST='{"throughput_rps":0,"p50_ms":0,"cpu_ms":0}'
    fi
}

# field NAME JSON: a scalar field of cm-load's flat --json line
field() { sed -n -E "s/.*\"$1\":(\"[^\"]*\"|[^,}]*).*/\\1/p" <<<"$2" | tr -d '"'; }

# rr OP JSON: one request to the agent through mosquitto_rr (MQTT 5), the reply on stdout
rr() {
    mosquitto_rr -V 5 -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -W 30 -t "cm/v1/req/$1" -e "cm/v1/reply/anon/benchsetup$$" -m "$2"
}
# json_str KEY: the first string value of KEY in the JSON on stdin
json_str() { sed -n -E "s/.*\"$1\":\"([^\"]*)\".*/\\1/p" | head -n 1; }
# json_id: the first entity id ({"entityType":...,"id":"<uuid>"}) in the JSON on stdin
json_id() { grep -o -E '"id":"[0-9a-f-]{36}"' | head -n 1 | cut -d'"' -f4; }
setup_fail() { echo "$BENCH_NAME: agent setup failed at $1: $2" >&2; exit 1; }

# tenant_admin TITLE EMAIL: a new tenant and its activated administrator, through the protocol with
# $SYS_TOKEN; prints the administrator's access token
tenant_admin() {
    local r tenant
    r=$(rr tenant.create "{\"token\":\"$SYS_TOKEN\",\"data\":{\"title\":\"$1\"}}")
    tenant=$(json_id <<<"$r"); [ -n "$tenant" ] || setup_fail tenant.create "$r"
    admin_of "$tenant" "$2"
}

# admin_of TENANT_ID EMAIL [PASSWORD]: a new activated administrator of an existing tenant, through
# the protocol with $SYS_TOKEN, with PASSWORD (default: a random one); prints its access token
admin_of() {
    local r tenant=$1 user act pw=${3:-Bench-$RANDOM$RANDOM}
    r=$(rr user.create "{\"token\":\"$SYS_TOKEN\",\"data\":{\"email\":\"$2\",\"authority\":\"TENANT_ADMIN\",\"tenantId\":\"$tenant\"}}")
    user=$(json_id <<<"$r"); [ -n "$user" ] || setup_fail user.create "$r"
    r=$(rr user.activationLink "{\"token\":\"$SYS_TOKEN\",\"data\":{\"id\":\"$user\"}}")
    act=$(sed -n -E 's/.*activateToken=([A-Za-z0-9_-]+).*/\1/p' <<<"$r"); [ -n "$act" ] || setup_fail user.activationLink "$r"
    r=$(rr auth.activate "{\"data\":{\"activateToken\":\"$act\",\"password\":\"$pw\"}}")
    json_str token <<<"$r"
}

# start_agent: the agent built in $AGENT_BIN with a fresh database in $TMP (or the database in
# $AGENT_DB, kept as it is) on $BROKER_URI, with the configuration lines of the array AGENT_EXTRA
# (when set) added, then a tenant through the protocol: sets SYS_TOKEN (system administrator, whose
# password is SYS_PASSWORD: set it beforehand for a kept database whose administrator exists
# already), TA_TENANT, and TA_TOKEN and TA_EMAIL of its tenant admin, whose password is TA_PASSWORD
start_agent() {
    local sys_pw=${SYS_PASSWORD:-bench-$RANDOM$RANDOM} r=""
    SYS_PASSWORD=$sys_pw
    [ -n "${AGENT_DB:-}" ] || rm -f "$TMP"/cmagent.db*
    cat >"$TMP/cmagent.conf" <<EOF
broker $BROKER_URI
database ${AGENT_DB:-$TMP/cmagent.db}
agent_id bench-$$
sysadmin_email sysadmin@bench.local
sysadmin_password $sys_pw
log_level warning
EOF
    [ -z "${AGENT_EXTRA+set}" ] || printf '%s\n' "${AGENT_EXTRA[@]}" >>"$TMP/cmagent.conf"
    start_bg agent "$AGENT_BIN" -c "$TMP/cmagent.conf"
    for _ in $(seq 1 100); do
        r=$(mosquitto_rr -V 5 -h 127.0.0.1 -p "$BROKER_PORT" -W 1 -t cm/v1/req/agent.ping -e "cm/v1/reply/anon/benchsetup$$" \
            -m '{}' 2>/dev/null || true)
        case $r in *'"status":200'*) break ;; esac
        kill -0 "${PIDS[${#PIDS[@]} - 1]}" 2>/dev/null || { tail -n 20 "$TMP/agent.log" >&2; setup_fail start "the agent exited"; }
    done
    case $r in *'"status":200'*) ;; *) setup_fail start "no agent.ping reply" ;; esac

    r=$(rr auth.login "{\"data\":{\"email\":\"sysadmin@bench.local\",\"password\":\"$sys_pw\"}}")
    SYS_TOKEN=$(json_str token <<<"$r"); [ -n "$SYS_TOKEN" ] || setup_fail auth.login "$r"
    r=$(rr tenant.create "{\"token\":\"$SYS_TOKEN\",\"data\":{\"title\":\"Bench tenant\"}}")
    TA_TENANT=$(json_id <<<"$r"); [ -n "$TA_TENANT" ] || setup_fail tenant.create "$r"
    TA_EMAIL=admin-$$-$RANDOM@bench.local
    TA_PASSWORD=Bench-$RANDOM$RANDOM
    TA_TOKEN=$(admin_of "$TA_TENANT" "$TA_EMAIL" "$TA_PASSWORD")
    [ -n "$TA_TOKEN" ] || exit 1
}

# start_member N: one more agent on the database and broker of the one start_agent started, with its
# configuration ($TMP/cmagent.conf, so AGENT_EXTRA should hold a share_group line) but the agent_id
# bench-$$-N; waits until its retained status says online; sets MEMBER_PID
start_member() {
    local conf=$TMP/cmagent-$1.conf
    sed -e "s/^agent_id .*/agent_id bench-$$-$1/" "$TMP/cmagent.conf" >"$conf"
    start_bg "agent-$1" "$AGENT_BIN" -c "$conf"
    MEMBER_PID=${PIDS[${#PIDS[@]} - 1]}
    for _ in $(seq 1 100); do
        mosquitto_sub -V 5 -h 127.0.0.1 -p "$BROKER_PORT" -C 1 -W 1 -t "cm/v1/status/bench-$$-$1" 2>/dev/null |
            grep -q '"state":"online"' && return 0
        kill -0 "$MEMBER_PID" 2>/dev/null || { tail -n 20 "$TMP/agent-$1.log" >&2; setup_fail "member $1" "it exited"; }
    done
    setup_fail "member $1" "its status never said online"
}

# ---- a private PostgreSQL cluster ----

# pg_as CMD...: CMD as the cluster's owner (initdb and the server refuse root: the postgres user then)
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

# start_postgres [SERVER_OPTION...]: a PostgreSQL cluster in $TMP/pg on a free 127.0.0.1 port, with
# the server's own defaults (fsync and synchronous_commit on: a commit waits for the disk, as the
# agent's SQLite does) unless options ("-c name=value") say otherwise; stopped on exit. Sets PG_PORT,
# PG_POSTMASTER (the server's pid) and PG_USER
start_postgres() {
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$PG_BIN/initdb" ] || { echo "$BENCH_NAME: PostgreSQL's server is not installed (scripts/deps)" >&2; return 1; }
    PG_DIR=$TMP/pg
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" -eq 0 ]; then PG_USER=postgres; chmod 711 "$TMP"; chown postgres: "$PG_DIR"; else PG_USER=$(id -un); fi
    pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U "$PG_USER" -E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 ||
        { cat "$TMP/initdb.log" >&2; return 1; }
    PG_DATA=$PG_DIR/data
    local attempt
    for attempt in 1 2 3 4 5 6 7 8; do
        PG_PORT=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$PG_PORT" && continue
        if pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR $*" start >/dev/null; then
            PG_POSTMASTER=$(head -n 1 "$PG_DATA/postmaster.pid")
            return 0
        fi
        echo "$BENCH_NAME: PostgreSQL did not start on port $PG_PORT (attempt $attempt), retrying" >&2
    done
    tail -n 20 "$PG_DIR/server.log" >&2 || true
    return 1
}

# pg_database NAME: a new database NAME in the cluster; prints its URI
pg_database() {
    pg_as "$PG_BIN/psql" -X -q -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" -d postgres -c "CREATE DATABASE $1" >&2
    echo "postgresql://$PG_USER@127.0.0.1:$PG_PORT/$1"
}

# pg_cpu_ms: CPU time (user + system) the whole server has used so far, in ms: the postmaster, its
# children that have ended (which it has waited for: cutime and cstime) and those that run (the
# backends of the agents' connections, the WAL writer, the checkpointer, autovacuum)
pg_cpu_ms() {
    local hz
    hz=$(getconf CLK_TCK)
    {
        awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PG_POSTMASTER/stat"
        { cat /proc/[0-9]*/stat 2>/dev/null || true; } | # a process may end meanwhile
            awk -v pp="$PG_POSTMASTER" '{ sub(/^.*\) /, ""); if ($2 == pp) print $12 + $13 }'
    } | awk -v hz="$hz" '{ t += $1 } END { printf "%d", t * 1000 / hz }'
}
