#!/usr/bin/env bash
# bench/startcheck.sh: what the database check at start (database_check quick: the file read in
# order, then PRAGMA quick_check) costs on a large database. Builds a database with cm-fill (one
# tenant owning SIZE devices, at most 1000 customers), starts its own mosquitto on a free 127.0.0.1
# port, then starts and stops the agent on that database RUNS times, each time twice: first with
# the file's pages dropped from the page cache (dd iflag=nocache: "cold", as after a reboot), then
# again at once ("warm", as a restart). Reports the time the agent logs for the check. Everything it
# started is stopped on exit.
#
# Usage: bench/startcheck.sh [-s SIZE] [-r RUNS] [-d FILE] [BUILD_DIR]
#   BUILD_DIR  where cmagent and the bench tools were built (default ./build)
#   -s SIZE    devices (default 1000000)
#   -r RUNS    cold + warm pairs (default 3)
#   -d FILE    keep the database in FILE and reuse it when it exists (a million devices take a
#              quarter of a minute to build and 780 MB)
#   -h         show this help
# Exit status: 0 when every start passed the check, 1 otherwise, 2 on usage.
set -euo pipefail

BENCH_NAME=startcheck.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

SIZE=1000000
RUNS=3
DBFILE=""
while getopts ":s:r:d:h" opt; do
    case $opt in
        s) SIZE=$OPTARG ;;
        r) RUNS=$OPTARG ;;
        d) DBFILE=$OPTARG ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
for v in $SIZE $RUNS; do
    case $v in ''|*[!0-9]*|0) echo "startcheck.sh: -s and -r want positive numbers, not '$v'" >&2; exit 2 ;; esac
done

FILL_BIN=$BUILD/bench/cm-fill
AGENT_BIN=$BUILD/cmagent
need_bins "$BUILD" "$FILL_BIN" "$AGENT_BIN"
need_mosquitto

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DB=${DBFILE:-$TMP/startcheck.db}
if [ -n "$DBFILE" ] && [ -f "$DBFILE" ]; then
    echo "database  $DB (reused)"
else
    echo "database  building $DB: $SIZE devices"
    "$FILL_BIN" -c 1000 "$DB" "$SIZE" >/dev/null 2>"$TMP/fill.log" || {
        echo "startcheck.sh: cm-fill failed:" >&2; tail -n 5 "$TMP/fill.log" >&2; exit 1; }
fi
echo "          $(($(stat -c %s "$DB") / 1000000)) MB"
start_broker

cat >"$TMP/cmagent.conf" <<EOF
broker $BROKER_URI
database $DB
database_check quick
agent_id bench-$$
log_level info
EOF

# check LABEL: starts the agent, waits for its check, stops it; prints the milliseconds it logged
check() {
    local ms
    start_bg agent "$AGENT_BIN" -c "$TMP/cmagent.conf"
    if ! wait_for_log agent "$TMP/agent.log" 'checked (PRAGMA quick_check) in' 600; then
        FAILED=1
        return
    fi
    forget_last
    ms=$(sed -n -E 's/.*checked \(PRAGMA quick_check\) in ([0-9]+) ms.*/\1/p' "$TMP/agent.log" | tail -n 1)
    printf "%-6s %8s ms\n" "$1" "$ms"
}

for ((i = 1; i <= RUNS; i++)); do
    sync "$DB"
    dd if="$DB" iflag=nocache count=0 status=none
    check cold
    check warm
done
exit "$FAILED"
