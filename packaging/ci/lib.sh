# Shared by the packaging smoke tests: stops a child with SIGTERM (as
# systemd does), SIGKILL after 15 s, and reaps it. No-op for an empty pid.
stop_pid() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 1 75); do
        case "$(ps -o stat= -p "$1" 2>/dev/null)" in "" | Z*) break ;; esac
        sleep 0.2
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
