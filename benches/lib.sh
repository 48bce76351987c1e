# Helpers sourced by the bench scripts (from the repository's root).

# `need COMMAND PACKAGE`: installs the Debian package PACKAGE with apt-get
# (through sudo unless running as root) when COMMAND is not on the PATH, and
# fails with a message naming both when it is still missing afterwards.
need() {
    local command=$1 package=$2 sudo=""
    command -v "$command" >/dev/null && return 0
    echo "==> installing $package (Debian package, for $command)" >&2
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null
    command -v "$command" >/dev/null || { echo "$(basename "$0"): $command (Debian package $package) is not installed" >&2; return 1; }
}

# `build_hello_server [ONLY]`: builds examples/hello_server.rs in the bench
# profile and prints the executable's path; with ONLY (`noop`, `map`,
# `chaos`, or one of them with `-outer`), a build with `bare` and that layer
# only (HELLO_SERVER_ONLY, see the example's docs), else with every variant
# whatever the environment says.
build_hello_server() {
    local only=${1:-}
    if [[ -n "$only" ]]; then export HELLO_SERVER_ONLY=$only; else unset HELLO_SERVER_ONLY; fi
    echo "==> building examples/hello_server.rs (bench profile${only:+, $only only})" >&2
    build_example hello_server
}

# `build_example NAME [CARGO_ARGS...]`: builds examples/NAME.rs in the bench
# profile and prints the executable's path, as cargo reports it (so it
# follows CARGO_TARGET_DIR).
build_example() {
    local bin name=$1
    shift
    bin=$(cargo build "$@" --profile bench --example "$name" --message-format=json-render-diagnostics |
        sed -n "s/.*\"executable\":\"\([^\"]*$name\)\".*/\1/p" | tail -1)
    [[ -x "$bin" ]] || { echo "$(basename "$0"): could not find the $name binary" >&2; return 1; }
    echo "$bin"
}

# `server_address OUT PID TRIES`: waits, TRIES times 0.1 s at most, for the
# hello server with process id PID to print its address (`127.0.0.1:PORT`)
# as the first line of the file OUT, and prints it; fails if the server
# exits first or the time runs out.
server_address() {
    local out=$1 pid=$2 tries=$3 addr=""
    for _ in $(seq "$tries"); do
        addr=$(head -1 "$out" 2>/dev/null || true)
        if [[ "$addr" =~ ^127\.0\.0\.1:[0-9]+$ ]]; then
            echo "$addr"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# `stop_within PID TRIES`: waits, TRIES times 0.1 s at most, for process PID
# to exit (its caller has asked it to), kills it if it has not, and reaps
# it; fails if it had to be killed.
stop_within() {
    local pid=$1 tries=$2
    for _ in $(seq "$tries"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 1
    fi
    wait "$pid" 2>/dev/null || true
}

# `allowed_cpus`: the numbers of the CPUs this process may run on, one line,
# separated by spaces (from Cpus_allowed_list, e.g. `0-1,4`; all of
# `nproc`'s count from 0 where /proc does not say).
allowed_cpus() {
    local list part parts ids=()
    list=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status 2>/dev/null || true)
    if [[ -z "$list" ]]; then
        seq -s ' ' 0 $(($(nproc) - 1))
        return
    fi
    IFS=, read -ra parts <<<"$list"
    for part in "${parts[@]}"; do
        if [[ "$part" == *-* ]]; then
            ids+=($(seq "${part%-*}" "${part#*-}"))
        else
            ids+=("$part")
        fi
    done
    echo "${ids[*]}"
}
