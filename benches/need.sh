# Sourced by the bench scripts: `need COMMAND PACKAGE` installs the Debian
# package PACKAGE with apt-get (through sudo unless running as root) when
# COMMAND is not on the PATH, and fails with a message naming both when it
# is still missing afterwards.
need() {
    local command=$1 package=$2 sudo=""
    command -v "$command" >/dev/null && return 0
    echo "==> installing $package (Debian package, for $command)" >&2
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null
    command -v "$command" >/dev/null || { echo "$(basename "$0"): $command (Debian package $package) is not installed" >&2; return 1; }
}
