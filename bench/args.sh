# bench/args.sh: the command-line checks every benchmark script shares, sourced right after
# `set -euo pipefail` (before bench/lib.sh, whose sourcing starts the temporary directory): the help
# text from the script's header, the getopts errors, and the programs it needs. The sourcing script
# sets BENCH_NAME (for messages) first.

# usage: the sourcing script's header comment, from its second line to `set -euo pipefail`
usage() {
    local script=${BASH_SOURCE[${#BASH_SOURCE[@]} - 1]}
    sed -n '2,/^set -euo/p' "$script" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

# other_option OPT: what getopts found besides the script's own options: -h shows the help (exit 0),
# ":" is a missing value and anything else an unknown option (exit 2)
other_option() {
    if [ "$1" = h ]; then
        usage
        exit 0
    elif [ "$1" = ":" ]; then
        echo "$BENCH_NAME: -$OPTARG needs a value" >&2
    else
        echo "$BENCH_NAME: unknown option -$OPTARG (try -h)" >&2
    fi
    exit 2
}

# build_dir_arg OPERANDS...: the operands left after the options, at most one BUILD_DIR; sets BUILD
# to it (default ./build)
build_dir_arg() {
    [ $# -le 1 ] || { echo "$BENCH_NAME: at most one BUILD_DIR argument (try -h)" >&2; exit 2; }
    BUILD=${1:-./build}
}

# need_bins BUILD BIN...: every BIN is an executable (built in BUILD); exits 2 otherwise
need_bins() {
    local build=$1 b
    shift
    for b in "$@"; do
        [ -x "$b" ] || { echo "$BENCH_NAME: $b not found; build first (cmake --build $build)" >&2; exit 2; }
    done
}

# need_mosquitto [rr]: sets MOSQUITTO to the broker (default: the one on PATH) and, with rr, checks
# that mosquitto_rr is there; exits 2 otherwise
need_mosquitto() {
    MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
    [ -x "$MOSQUITTO" ] || { echo "$BENCH_NAME: mosquitto not found (set MOSQUITTO=/path/to/mosquitto)" >&2; exit 2; }
    [ "${1:-}" != rr ] || command -v mosquitto_rr >/dev/null ||
        { echo "$BENCH_NAME: mosquitto_rr not found (apt-get install mosquitto-clients)" >&2; exit 2; }
}

# cpu_ms PID: CPU time (user + system, all threads) the process has used so far, in ms
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
