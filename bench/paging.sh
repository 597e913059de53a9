#!/usr/bin/env bash
# bench/paging.sh: latency of the paged listings customer.list and customer.devices as the tables
# grow. Builds a database with cm-fill (one tenant per SIZE holding SIZE customers, one of them
# owning SIZE devices), starts its own mosquitto on a free 127.0.0.1 port, cm-echo (the floor) and
# the agent on that database, and measures for each size, with one request in flight: the first
# page by offset, the last page by offset, and a page in the middle by cursor (pageToken); the echo
# and agent.ping are measured first, to show what the shared machine's noise alone costs. Then
# customer.list searched by e-mail, phone, city and country and sorted by those fields.
# Everything it started is stopped on exit.
#
# Usage: bench/paging.sh [-n COUNT] [-s "SIZE..."] [-c MAX] [-p PAGE_SIZE] [-d FILE] [-o FILE] [BUILD_DIR]
#   BUILD_DIR  where cmagent and the bench tools were built (default ./build)
#   -n COUNT   measured requests per run (default 1000, after COUNT/10 warmup); the last page by
#              offset reads every row before it, so its runs get COUNT*1000/SIZE (at least 20)
#   -s SIZES   table sizes, space separated (default "1000 10000 100000 1000000")
#   -c MAX     at most MAX customers per tenant (devices are always SIZE; default: no cap)
#   -p SIZE    pageSize (default 20)
#   -d FILE    keep the database in FILE and reuse it when FILE and FILE.tenants exist
#              (building a million rows of each takes minutes)
#   -o FILE    also write cm-load's JSON result lines to FILE
#   -h         show this help
# Exit status: 0 when every run got all its replies right and in time, 1 otherwise, 2 on usage.
#
# The listings are sorted by createdTime descending (ThingsBoard's usual order).
set -euo pipefail

BENCH_NAME=paging.sh
# shellcheck source=bench/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

COUNT=1000
SIZES="1000 10000 100000 1000000"
MAXC=""
PAGE_SIZE=20
DBFILE=""
OUT=""
while getopts ":n:s:c:p:d:o:h" opt; do
    case $opt in
        n) COUNT=$OPTARG ;;
        s) SIZES=$OPTARG ;;
        c) MAXC=$OPTARG ;;
        p) PAGE_SIZE=$OPTARG ;;
        d) DBFILE=$OPTARG ;;
        o) OUT=$OPTARG ;;
        *) other_option "$opt" ;;
    esac
done
build_dir_arg "${@:OPTIND}"
for v in $COUNT $SIZES $PAGE_SIZE ${MAXC:+$MAXC}; do
    case $v in ''|*[!0-9]*|0) echo "paging.sh: -n, -s, -c and -p want positive numbers, not '$v'" >&2; exit 2 ;; esac
done

LOAD_BIN=$BUILD/bench/cm-load
FILL_BIN=$BUILD/bench/cm-fill
ECHO_BIN=$BUILD/bench/cm-echo
AGENT_BIN=$BUILD/cmagent
need_bins "$BUILD" "$LOAD_BIN" "$FILL_BIN" "$ECHO_BIN" "$AGENT_BIN"
need_mosquitto rr

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AGENT_DB=${DBFILE:-$TMP/paging.db}
if [ -n "$DBFILE" ] && [ -f "$DBFILE" ] && [ -f "$DBFILE.tenants" ]; then
    echo "database  $DBFILE (reused)"
else
    echo "database  building $AGENT_DB: sizes $SIZES${MAXC:+, at most $MAXC customers per tenant}"
    t0=$(date +%s)
    # shellcheck disable=SC2086
    "$FILL_BIN" ${MAXC:+-c "$MAXC"} "$AGENT_DB" $SIZES >"$AGENT_DB.tenants.new" 2>"$TMP/fill.log" || {
        echo "paging.sh: cm-fill failed:" >&2; tail -n 5 "$TMP/fill.log" >&2; exit 1; }
    mv "$AGENT_DB.tenants.new" "$AGENT_DB.tenants"
    echo "          built in $(($(date +%s) - t0)) s"
fi
export AGENT_DB
# a kept database keeps its system administrator, so its password must be the same on every run
[ -z "$DBFILE" ] || SYS_PASSWORD=paging-bench-sysadmin

ROW_FMT="%-56s %6s %7s %9s %9s %9s\n"
PREFIX=cm/v1
EXPECT=200
run() { # run LABEL OP COUNT DATA: one cm-load run at window 1 with $TOKEN on $PREFIX
    local label=$1 last
    load_args "$label" "$PREFIX" "$2" "$3" 1 "$EXPECT" "$4" "$TOKEN"
    cm_load "${LOAD_ARGS[@]}"
    last=$LAST
    if [ -z "$last" ]; then
        load_failed "$label" "printed nothing"
        return
    fi
    # shellcheck disable=SC2059
    printf "$ROW_FMT" "$label" "$(field count "$last")" "$(field errors "$last")" "$(field p50_ms "$last")" \
        "$(field p99_ms "$last")" "$(field max_ms "$last")"
    [ -z "$OUT" ] || echo "$last" >>"$OUT"
    [ "$LOAD_RC" -eq 0 ] || load_failed "$label"
}

# listing LABEL OP ROWS BASE: first page, last page by offset, middle page by cursor
listing() {
    local label=$1 op=$2 rows=$3 base=$4 last_page mid deep token r
    local order='"sortProperty":"createdTime","sortOrder":"DESC","pageSize":'$PAGE_SIZE
    last_page=$(((rows + PAGE_SIZE - 1) / PAGE_SIZE - 1))
    mid=$((last_page / 2))
    deep=$((COUNT * 1000 / rows))
    [ "$deep" -ge 20 ] || deep=20
    [ "$deep" -le "$COUNT" ] || deep=$COUNT
    r=$(rr "$op" '{"token":"'"$TOKEN"'","data":{'"$base$order"',"page":'$mid'}}')
    token=$(json_str nextPageToken <<<"$r")
    case $r in *'"totalElements":'"$rows"[',}']*) ;; *) echo "paging.sh: $op does not count $rows rows: ${r:0:300}" >&2; FAILED=1 ;; esac
    run "$label first page (offset)" "$op" "$COUNT" "{$base$order,\"page\":0}"
    run "$label page $last_page (offset)" "$op" "$deep" "{$base$order,\"page\":$last_page}"
    if [ -n "$token" ]; then
        run "$label page $((mid + 1)) (cursor)" "$op" "$COUNT" "{$base$order,\"pageToken\":\"$token\"}"
    else
        echo "paging.sh: no nextPageToken from $op page $mid: ${r:0:300}" >&2
        FAILED=1
    fi
}

# search LABEL ROWS: customer.list by contact fields (cm-fill gives customer i the e-mail
# c<i>@bench.example, the phone "+1 555 <i>", city "City <i mod 100>", country "C<i mod 50>")
search() {
    local label=$1 rows=$2 mid
    local page='"pageSize":'$PAGE_SIZE',"page":0'
    mid=$(printf '%08d' $((rows / 2)))
    run "$label e-mail prefix, 1 match" customer.list "$COUNT" "{$page,\"email\":\"c$mid@\"}"
    run "$label phone prefix, <=10 matches" customer.list "$COUNT" "{$page,\"phone\":\"+1 555 ${mid:0:7}\"}"
    run "$label city, sorted by city" customer.list "$COUNT" "{$page,\"city\":\"City 42\",\"sortProperty\":\"city\"}"
    run "$label country, sorted by createdTime" customer.list "$((COUNT / 10 > 20 ? COUNT / 10 : 20))" \
        "{$page,\"country\":\"C07\",\"sortProperty\":\"createdTime\",\"sortOrder\":\"DESC\"}"
    run "$label sorted by email, first page" customer.list "$COUNT" "{$page,\"sortProperty\":\"email\"}"
    run "$label sorted by country desc, first page" customer.list "$COUNT" \
        "{$page,\"sortProperty\":\"country\",\"sortOrder\":\"DESC\"}"
}

[ -z "$OUT" ] || : >"$OUT"
start_broker
echo "broker    mosquitto on 127.0.0.1:$BROKER_PORT (set_tcp_nodelay true)"
start_bg echo "$ECHO_BIN" --broker "$BROKER_URI" --topic "bench/echo/req/+" --qos 1
wait_for_log cm-echo "$TMP/echo.log" 'cm-echo: ready' 10
start_agent
echo "requests  $COUNT per run after $((COUNT / 10)) warmup (fewer for the last page by offset), window 1, pageSize $PAGE_SIZE"
echo
# shellcheck disable=SC2059
printf "$ROW_FMT" label count errors "p50 ms" "p99 ms" "max ms"
TOKEN="" PREFIX=bench/echo EXPECT=0
run "echo (floor)" agent.ping "$COUNT" ""
PREFIX=cm/v1 EXPECT=200
run "agent.ping" agent.ping "$COUNT" ""
while read -r _ size tenant customer customers; do
    case " $SIZES " in *" $size "*) ;; *) continue ;; esac
    TOKEN=$(admin_of "$tenant" "admin-$size-$RANDOM@bench.local")
    [ -n "$TOKEN" ] || exit 1
    listing "customer.list ($customers customers)" customer.list "$customers" ''
    search "customer.list ($customers customers)" "$customers"
    listing "customer.devices ($size devices)" customer.devices "$size" '"customerId":"'"$customer"'",'
done <"$AGENT_DB.tenants"
exit "$FAILED"
