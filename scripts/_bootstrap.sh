# Sourced by run_all.sh and test.sh: make .venv with quickcam installed, once.
# Re-installs only when pyproject.toml (or the wanted extras) changed.
# Needs only Python 3.11+ and the package registries.

bootstrap_venv() {
    local extras="$1" py="" candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            py="$candidate"
            break
        fi
    done
    if [ -z "$py" ]; then
        echo "quickcam: Python 3.11 or newer is needed; install it (or set PYTHON=/path/to/python3.11)" >&2
        exit 2
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "quickcam: creating .venv with $py (first run only)" >&2
        "$py" -m venv .venv
    fi
    local sum have_sum="" have_extras=""
    sum="$(cksum < pyproject.toml | cut -d' ' -f1)"
    if [ -f .venv/.quickcam-installed ]; then
        read -r have_sum have_extras < .venv/.quickcam-installed
    fi
    # A test install includes the plain one, so a test venv also serves the demo.
    if [ "$have_sum" != "$sum" ] || { [ -n "$extras" ] && [ "$have_extras" != "$extras" ]; }; then
        echo "quickcam: installing dependencies into .venv (a minute or two on first run)" >&2
        .venv/bin/python -m pip install --quiet --upgrade pip >&2
        .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}" >&2
        echo "$sum ${extras:-none}" > .venv/.quickcam-installed
    fi
}
