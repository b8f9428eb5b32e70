#!/bin/sh
# Installs, enrolls and starts the deskhand agent on a Linux PC, in one line:
#
#   sudo sh install-agent.sh --server HOST:PORT --token T --ca-fingerprint SHA256
#
# `deskhand tokens create` prints this line ready to paste. Run it next to
# the agent's package (deskhand-agent_*.deb or deskhand-agent-*.rpm), or
# name the package with --package FILE. If the agent is installed already,
# the package step is skipped. Options:
#
#   --package FILE   the .deb or .rpm to install
#   --force          enroll again even if this PC is enrolled
#   --no-start       install and enroll, but do not start the service
set -eu

die() {
    echo "install-agent.sh: $*" >&2
    exit 1
}

server= token= fingerprint= package= force= start=yes
while [ $# -gt 0 ]; do
    case "$1" in
        --server) [ $# -ge 2 ] || die "--server needs HOST:PORT"; server=$2; shift 2 ;;
        --token) [ $# -ge 2 ] || die "--token needs a value"; token=$2; shift 2 ;;
        --ca-fingerprint) [ $# -ge 2 ] || die "--ca-fingerprint needs a value"; fingerprint=$2; shift 2 ;;
        --package) [ $# -ge 2 ] || die "--package needs a file"; package=$2; shift 2 ;;
        --force) force=--force; shift ;;
        --no-start) start=; shift ;;
        -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option $1; see --help" ;;
    esac
done
[ -n "$server" ] && [ -n "$token" ] && [ -n "$fingerprint" ] ||
    die "--server, --token and --ca-fingerprint are required (copy the line \`deskhand tokens create\` prints)"
[ "$(id -u)" -eq 0 ] || die "run it as root (sudo sh install-agent.sh ...)"

# 1. The package: named, or found next to this script or in the current directory.
if [ -z "$package" ]; then
    here=$(dirname "$0")
    for candidate in "$here"/deskhand-agent_*.deb "$here"/deskhand-agent-*.rpm ./deskhand-agent_*.deb ./deskhand-agent-*.rpm; do
        if [ -f "$candidate" ]; then package=$candidate; break; fi
    done
fi
if [ -n "$package" ]; then
    [ -f "$package" ] || die "no package at $package"
    echo "installing $package"
    case "$package" in
        *.deb)
            if command -v apt-get >/dev/null 2>&1; then
                # apt resolves the dependencies dpkg alone would refuse.
                case "$package" in /*) ;; *) package=./$package ;; esac
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null ||
                    die "apt-get could not install $package"
            else
                dpkg -i "$package" >/dev/null || die "dpkg could not install $package"
            fi
            ;;
        *.rpm)
            if command -v dnf >/dev/null 2>&1; then
                dnf install -y -q "$package" || die "dnf could not install $package"
            else
                rpm -U --replacepkgs "$package" || die "rpm could not install $package"
            fi
            ;;
        *) die "$package is neither a .deb nor an .rpm" ;;
    esac
elif ! command -v deskhand-agent >/dev/null 2>&1; then
    die "no deskhand-agent package next to this script and none installed; pass --package FILE"
fi

# 2. Enroll, with the same state directory and config the service uses.
# shellcheck disable=SC2086 # $force is empty or one word
deskhand-agent --config /etc/deskhand/agent.toml --state-dir /var/lib/deskhand-agent \
    enroll --server "$server" --token "$token" --ca-fingerprint "$fingerprint" $force ||
    die "enrollment failed (see the error above); nothing was started"

# 3. Start the service.
if [ -z "$start" ]; then
    echo "enrolled; start the agent with: systemctl enable --now deskhand-agent"
elif [ -d /run/systemd/system ]; then
    systemctl enable --quiet deskhand-agent
    systemctl restart deskhand-agent
    echo "the agent runs: systemctl status deskhand-agent"
else
    echo "enrolled; systemd is not running here, so start the agent yourself:"
    echo "  /usr/bin/deskhand-agent --config /etc/deskhand/agent.toml --state-dir /var/lib/deskhand-agent run"
fi
