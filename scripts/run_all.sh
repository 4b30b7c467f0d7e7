#!/usr/bin/env bash
# Start the uploader, then the detector; forward Ctrl-C/SIGTERM; exit non-zero if either failed.
# If one of them fails, both stop at once and its error is the last line printed.
#
#   scripts/run_all.sh --demo [--seconds N]     demo camera, local storage, no accounts needed
#   scripts/run_all.sh --config quickcam.toml   your own camera and storage
#   add --native to run the native (C++) detector instead of the Python one (built on first use)
# Files (tokens.env, outbox/, spool/, storage/, logs) are made in the current folder.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/_bootstrap.sh"

demo=0 seconds="" config="" native=0
while [ $# -gt 0 ]; do
    case "$1" in
        --demo) demo=1 ;;
        --native) native=1 ;;
        --seconds) seconds="${2:?--seconds needs a number}"; shift ;;
        --config) config="${2:?--config needs a file}"; shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "run_all.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$seconds" ] && ! [[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "run_all.sh: --seconds needs a number of seconds, got '$seconds'" >&2
    exit 2
fi
if [ -n "$config" ] && [ ! -f "$config" ]; then
    echo "run_all.sh: config file $config not found; copy quickcam.example.toml to start one" >&2
    exit 2
fi

(cd "$ROOT" && bootstrap_venv "") || exit 1
QC="$ROOT/.venv/bin/quickcam"
detector=("$QC" detector)
if [ "$native" = 1 ]; then
    # Installs its Debian packages when run as root (it says which and why), then builds.
    native_bin="$("$ROOT/scripts/build_native.sh" | tail -1)" || {
        echo "run_all.sh: the native detector could not be built (see above)" >&2; exit 1; }
    detector=("$native_bin")
fi

args=()
[ -n "$config" ] && args+=(--config "$config")
if [ "$demo" = 1 ]; then
    export QUICKCAM_CAMERA__SOURCE=demo
    export QUICKCAM_UPLOADER__DESTINATIONS=local
    # Recipient mode (ENCRYPTION_RECIPIENT, which wins over ENCRYPTION_KEY) needs no symmetric key.
    if [ -z "${ENCRYPTION_RECIPIENT:-}" ] && ! grep -qs '^ENCRYPTION_RECIPIENT=' tokens.env \
        && ! grep -qs '^ENCRYPTION_KEY=' tokens.env; then
        (umask 077; "$QC" keygen >> tokens.env) || exit 1
        chmod 600 tokens.env
        echo "run_all.sh: wrote a new ENCRYPTION_KEY to tokens.env (mode 600). Keep a copy somewhere safe:" >&2
        echo "run_all.sh: without it the footage cannot be decrypted." >&2
    fi
fi

# Each process gets its own session where possible, so Ctrl-C reaches this
# script only and the stop order below holds: the detector first (it flushes
# its open segment), then the uploader (it stores and uploads that segment).
detach=()
command -v setsid >/dev/null 2>&1 && detach=(setsid)

# Each process's stderr also goes to a private file, so that a failure's own error line
# can be repeated last instead of being buried among the other process's lines. The tee
# ignores Ctrl-C (it is in this script's process group, which the terminal signals): it
# must live to pass on what the processes say while they stop.
errors="$(mktemp -d)" || exit 1
trap 'rm -rf "$errors"' EXIT
${detach[@]+"${detach[@]}"} "$QC" uploader ${args[@]+"${args[@]}"} 2> >(trap '' INT TERM; exec tee "$errors/uploader" >&2) &
up_pid=$!
${detach[@]+"${detach[@]}"} "${detector[@]}" ${args[@]+"${args[@]}"} 2> >(trap '' INT TERM; exec tee "$errors/detector" >&2) &
det_pid=$!

stop_requested=0
trap 'stop_requested=1' INT TERM
start=$SECONDS
while [ "$stop_requested" = 0 ] && kill -0 "$up_pid" 2>/dev/null && kill -0 "$det_pid" 2>/dev/null; do
    if [ -n "$seconds" ] && [ $((SECONDS - start)) -ge "${seconds%.*}" ]; then
        break
    fi
    sleep 0.5 & wait $! 2>/dev/null
done

failed=""
kill -0 "$up_pid" 2>/dev/null || failed=uploader
[ -z "$failed" ] && ! kill -0 "$det_pid" 2>/dev/null && failed=detector
kill -TERM "$det_pid" 2>/dev/null  # the detector first: it hands over its open segment (if it can)
wait "$det_pid"; det_rc=$?
kill -TERM "$up_pid" 2>/dev/null
wait "$up_pid"; up_rc=$?
sleep 0.2  # let tee write the last lines

# The error line of a process that failed: its one-line error, or its last error log line.
last_error() {
    grep -E '^quickcam: |level=(error|critical)' "$errors/$1" 2>/dev/null | tail -n 1
}
if [ "$det_rc" != 0 ] || [ "$up_rc" != 0 ]; then
    [ -z "$failed" ] && { [ "$up_rc" != 0 ] && failed=uploader || failed=detector; }
    line="$(last_error "$failed")"
    echo "run_all.sh: the $failed stopped (detector exit $det_rc, uploader exit $up_rc)" >&2
    echo "run_all.sh: ${line:-see its lines above}" >&2
    exit 1
fi

storage="$("$ROOT/.venv/bin/python" - ${args[@]+"${args[@]}"} <<'PY' 2>/dev/null
import sys
from pathlib import Path
from quickcam.common.config import load_config
cfg = load_config(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
local = cfg.storage.get("local", {}).get("path", "storage")
print(Path(local) / cfg.uploader.remote_folder)
PY
)"
if [ -n "$storage" ] && [ -d "$storage" ]; then
    count=$(find "$storage" -name '*.qsc' | wc -l | tr -d ' ')
    echo "run_all.sh: $count encrypted file(s) in $storage"
    echo "run_all.sh: decrypt them with: $QC decrypt $storage -o decrypted"
fi
exit 0
