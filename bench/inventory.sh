#!/usr/bin/env bash
# Benchmark: `deskhand-agent inventory --json` against fusioninventory-agent and
# ocsinventory-agent, on this machine, in one run.
#
# For each tool: RUNS runs (default 7), median wall time, median peak RSS
# (/usr/bin/time -f %M), software package count, and the inventory categories
# it reports (non-empty sections). Prints a table.
#
#   bench/inventory.sh            # build release, install peers if missing, run
#   RUNS=11 bench/inventory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

need_apt=()
[ -x /usr/bin/time ] || need_apt+=(time)
command -v fusioninventory-inventory >/dev/null || need_apt+=(fusioninventory-agent)
command -v ocsinventory-agent >/dev/null || need_apt+=(ocsinventory-agent)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]} ..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

cargo build --release -p deskhand-agent >&2
AGENT=$PWD/target/release/deskhand-agent

# run NAME OUTFILE CMD... : RUNS timed runs, appends "wall_ms rss_kb" lines to $OUT/NAME.times
run() {
    local name=$1 outfile=$2
    shift 2
    "$@" >"$outfile" 2>/dev/null || true # warm-up (page cache), not counted
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s%N)
        /usr/bin/time -f "%M" -o "$OUT/$name.rss" "$@" >"$outfile" 2>/dev/null || true
        t1=$(date +%s%N)
        echo "$(( (t1 - t0) / 1000 )) $(tail -n1 "$OUT/$name.rss")" >>"$OUT/$name.times"
    done
}

run deskhand "$OUT/deskhand.json" "$AGENT" inventory --json
run fusioninventory "$OUT/fusion.xml" fusioninventory-inventory
mkdir -p "$OUT/ocs"
run ocsinventory "$OUT/ocs.log" sh -c "rm -f '$OUT'/ocs/*; ocsinventory-agent --local='$OUT/ocs'"

python3 - "$OUT" "$RUNS" <<'PY'
import json, os, statistics, sys, glob
import xml.etree.ElementTree as ET

out, runs = sys.argv[1], int(sys.argv[2])

def times(name):
    rows = [l.split() for l in open(os.path.join(out, name + ".times"))]
    wall = statistics.median(int(r[0]) for r in rows) / 1000.0
    rss = statistics.median(int(r[1]) for r in rows) / 1024.0
    return wall, rss

# Peer XML section -> deskhand category (None: volatile state, belongs to diagnostics).
PEER_MAP = {
    "BIOS": "firmware/identity", "HARDWARE": "identity/os", "OPERATINGSYSTEM": "os",
    "CPUS": "cpu", "MEMORIES": "memory_modules", "STORAGES": "disks", "DRIVES": "volumes",
    "NETWORKS": "interfaces", "MONITORS": "displays", "VIDEOS": "gpus", "BATTERIES": "batteries",
    "SOFTWARES": "software", "LOCAL_USERS": "users", "LOCAL_GROUPS": "groups",
    "USERS": "sessions", "CONTROLLERS": "devices", "USBDEVICES": "devices", "PORTS": "devices",
    "SLOTS": "devices", "MODEMS": "devices", "SOUNDS": "devices", "INPUTS": "devices",
    "PRINTERS": "devices", "VIRTUALMACHINES": "(none)", "ANTIVIRUS": "antivirus",
    "FIREWALL": "firewalls", "LICENSEINFOS": "(none)", "ENVS": None, "PROCESSES": None,
    "ACCESSLOG": "meta", "VERSIONPROVIDER": "meta", "VERSIONCLIENT": "meta", "DOWNLOAD": "meta",
    "REMOTE_MGMT": "(none)", "REPOSITORY": "repositories", "RUDDER": "(none)", "CPUSTATS": None, "ENVIRONMENT": None,
}

def peer(xml_path):
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, FileNotFoundError):
        return 0, {}
    content = root.find("CONTENT")
    if content is None:
        return 0, {}
    sections = {}
    for child in content:
        if len(child) or (child.text or "").strip():
            sections[child.tag] = sections.get(child.tag, 0) + 1
    return sections.get("SOFTWARES", 0), sections

results = []
d = json.load(open(os.path.join(out, "deskhand.json")))
def filled(v):
    if isinstance(v, dict):
        return any(filled(x) for x in v.values())
    return v not in ([], None, "", 0, False)
cats = {k: (len(v) if isinstance(v, list) else 1) for k, v in d.items()
        if k not in ("schema_version", "meta") and filled(v)}
results.append(("deskhand-agent inventory --json", *times("deskhand"), len(d.get("software", [])), cats))
fn, fs = peer(os.path.join(out, "fusion.xml"))
results.append(("fusioninventory-inventory", *times("fusioninventory"), fn, fs))
ocs_files = glob.glob(os.path.join(out, "ocs", "*.ocs"))
on, osx = peer(ocs_files[0]) if ocs_files else (0, {})
results.append(("ocsinventory-agent --local", *times("ocsinventory"), on, osx))

print(f"\nInventory benchmark, {runs} runs each (median), same machine, one run of bench/inventory.sh\n")
print(f"| {'tool':<34} | {'wall ms':>8} | {'peak RSS MB':>11} | {'packages':>8} | categories |")
print(f"|{'-'*36}|{'-'*10}|{'-'*13}|{'-'*10}|------------|")
for name, wall, rss, pkgs, sections in results:
    print(f"| {name:<34} | {wall:>8.1f} | {rss:>11.1f} | {pkgs:>8} | {len(sections)} |")

print("\nCategories reported (non-empty):")
for name, _, _, _, sections in results:
    print(f"- {name}: {', '.join(sorted(sections))}")

print("\nPeer sections and where deskhand has them:")
ours = set(cats)
for name, _, _, _, sections in results[1:]:
    for tag in sorted(sections):
        target = PEER_MAP.get(tag, "?")
        if target is None:
            note = "volatile state: belongs to diagnostics, not to the inventory"
        elif target in ("meta", "(none)", "?"):
            note = f"-> {target}"
        else:
            have = all(any(t == c for c in ours) for t in target.split("/"))
            note = f"-> {target} ({'present' if have else 'EMPTY on this machine'})"
        print(f"- {name.split()[0]} {tag}: {note}")
PY
