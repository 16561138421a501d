#!/usr/bin/env bash
# Build the virtualenv that runs a real LNbits 1.6.2 for `make test-lnbits` (tests/nodes/test_lnbits_real.py).
# LNbits needs pydantic 1 and its own FastAPI and Starlette, so it never goes into the project's .venv.
# Idempotent: a stamp holding the checksum of scripts/lnbits-requirements.txt marks a complete venv.
# When the package index cannot be reached it writes the reason to <venv>/.unavailable (the tests then
# skip with it) and exits 0; every other failure exits non-zero.
#
#   scripts/lnbits_venv.sh [VENV]        (default: $LNBITS_VENV, else .venv-lnbits)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${1:-${LNBITS_VENV:-.venv-lnbits}}
REQUIREMENTS=scripts/lnbits-requirements.txt
STAMP=$VENV/.installed-stamp
UNAVAILABLE=$VENV/.unavailable

command -v "$PYTHON" >/dev/null || { echo "$PYTHON not found: install Python 3.11" >&2; exit 1; }
command -v sha256sum >/dev/null || { echo "sha256sum not found (coreutils)" >&2; exit 1; }
test -f "$REQUIREMENTS" || { echo "$REQUIREMENTS is missing" >&2; exit 1; }

want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
    echo "==> $VENV is up to date (LNbits 1.6.2)"
    exit 0
fi

echo "==> creating $VENV with LNbits 1.6.2 (pins in $REQUIREMENTS)"
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
rm -f "$STAMP" "$UNAVAILABLE"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" >"$scratch/pip.log" 2>&1; then
    # A broken install must fail loudly; only an index nobody can reach lets the tests skip.
    if "$VENV/bin/python" -m pip index versions lnbits --disable-pip-version-check --timeout 15 --retries 1 \
        >/dev/null 2>&1; then
        tail -20 "$scratch/pip.log" >&2
        echo "LNbits could not be installed into $VENV (the package index answers): see above" >&2
        exit 1
    fi
    echo "the package index could not be reached while installing LNbits 1.6.2 into $VENV" >"$UNAVAILABLE"
    echo "==> $(cat "$UNAVAILABLE"): the LNbits tests will be skipped" >&2
    exit 0
fi

# Import the app the way the tests start it, in a scratch folder: LNbits writes its data folder on import.
python=$(cd "$VENV" && pwd)/bin/python
(cd "$scratch" && LNBITS_DATA_FOLDER="$scratch/data" "$python" -c 'import lnbits.app') || {
    echo "LNbits is installed in $VENV but does not import: see above" >&2
    exit 1
}
echo "$want" >"$STAMP"
echo "==> $VENV ready. Next: make test-lnbits   (or .venv/bin/pytest -q -m lnbits)"
