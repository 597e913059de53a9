# scripts/run-postgres.sh: sourced by `scripts/run --postgres` (not run on its own): a PostgreSQL
# cluster of the repository's own under var/pg/data (initdb and pg_ctl, as the postgres user when
# run as root, which they require), listening on 127.0.0.1:${CMAGENT_PG_PORT:-55432} and on a
# socket in var/pg/run, with a role "cmagent" (its password in var/pg/role-password, mode 600) that
# owns a database "cmagent"; and the two agents on it. Uses scripts/run's root, conf, port_open,
# random_secret, agent_pids and tail_pid.

pg_dir=$root/var/pg
pg_data=$pg_dir/data
pg_run=$pg_dir/run
pg_port=${CMAGENT_PG_PORT:-55432}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ "$(id -u)" -eq 0 ]; then pg_super=postgres; else pg_super=$(id -un); fi

# Runs a PostgreSQL program as the cluster's owner, from a directory it may enter.
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$pg_run" && runuser -u postgres -- "$@")
    else
        (cd "$pg_run" && "$@")
    fi
}

pg_psql() {
    pg_as "$pg_bin/psql" -X -q -h "$pg_run" -p "$pg_port" -U "$pg_super" -d postgres -v ON_ERROR_STOP=1 "$@"
}

# The role's password: made on the first run, kept for the next ones.
pg_role_password() {
    local f=$pg_dir/role-password
    if [ ! -s "$f" ]; then
        (umask 077 && random_secret >"$f")
    fi
    cat "$f"
}

mkdir -p "$pg_dir"
pg_uri="postgresql://cmagent:$(pg_role_password)@127.0.0.1:$pg_port/cmagent"

pg_cluster_up() {
    if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
        echo "run: PostgreSQL's server is not installed (scripts/deps installs postgresql-15)" >&2
        exit 1
    fi
    mkdir -p "$pg_data" "$pg_run"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$pg_data" "$pg_run"
        if ! runuser -u postgres -- test -w "$pg_data"; then
            echo "run: the postgres user cannot reach $pg_data (a directory above it is closed to it);" \
                 "run from a checkout it may enter, or point the agents at an existing PostgreSQL (README)" >&2
            exit 1
        fi
    fi
    chmod 700 "$pg_data"
    if [ ! -f "$pg_data/PG_VERSION" ]; then
        echo "run: creating a PostgreSQL cluster in var/pg/data"
        pg_as "$pg_bin/initdb" -D "$pg_data" -U "$pg_super" -E UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 >"$pg_run/initdb.log" 2>&1 ||
            { cat "$pg_run/initdb.log" >&2; exit 1; }
    fi
    if pg_as "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then
        echo "run: PostgreSQL already runs on var/pg/data; using it (it is left running)"
    else
        if port_open "$pg_port"; then
            echo "run: something else listens on 127.0.0.1:$pg_port; set CMAGENT_PG_PORT to another port" >&2
            exit 1
        fi
        # its own process group, as mosquitto's: Ctrl-C stops the agents first, then this script it
        set -m
        pg_as "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_run/postgresql.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_run" start >/dev/null ||
            { set +m; echo "run: PostgreSQL failed to start; see var/pg/run/postgresql.log" >&2;
              tail -n 20 "$pg_run/postgresql.log" >&2; exit 1; }
        set +m
        pg_started=true
        echo "run: started PostgreSQL on 127.0.0.1:$pg_port (log var/pg/run/postgresql.log)"
    fi
    local pw
    pw=$(pg_role_password)
    if [ "$(pg_psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'cmagent'")" != 1 ]; then
        pg_psql -c "CREATE ROLE cmagent LOGIN PASSWORD '$pw'"
    fi
    if [ "$(pg_psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'cmagent'")" != 1 ]; then
        pg_psql -c "CREATE DATABASE cmagent OWNER cmagent"
        echo "run: created the role and database cmagent"
    fi
}

pg_cluster_down() {
    echo "run: stopping PostgreSQL"
    pg_as "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 60 stop >/dev/null || true
}

# Starts one agent with its own copy of the configuration (agent_id cmagent-$1); sets started_pid.
start_agent() {
    local n=$1 c=$pg_dir/agent-$1.conf log=$pg_dir/agent-$1.log
    (umask 077 && sed -E "s/^#?agent_id( .*)?\$/agent_id cmagent-$n/" "$conf" >"$c")
    echo "==== start $(date -u +%FT%TZ) ====" >>"$log"
    build/cmagent -c "$c" >>"$log" 2>&1 &
    started_pid=$!
}

# Waits until the agent of pid $1 logs "serving" after line $2 of log $3: 0, or 1 when it exited.
wait_serving() {
    for _ in $(seq 1 600); do
        tail -n "+$(($2 + 1))" "$3" | grep -q " serving " && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# The two agents, the first alone until it serves (it creates the tables and the system
# administrator), their logs shown as they grow; returns when one of them exits.
run_agents() {
    local n log lines rc
    for n in 1 2; do touch "$pg_dir/agent-$n.log"; done
    tail -n 0 -F "$pg_dir/agent-1.log" "$pg_dir/agent-2.log" &
    tail_pid=$!
    for n in 1 2; do
        log=$pg_dir/agent-$n.log
        lines=$(wc -l <"$log")
        start_agent "$n"
        agent_pids+=("$started_pid")
        if ! wait_serving "$started_pid" "$lines" "$log"; then
            echo "run: agent cmagent-$n did not start; see var/pg/agent-$n.log" >&2
            return 1
        fi
    done
    set +e
    wait -n "${agent_pids[@]}"
    rc=$?
    set -e
    echo "run: an agent stopped (exit status $rc); stopping the rest"
    return "$rc"
}
