#!/usr/bin/env bash
# The one command that runs Rehue's tests on a fresh machine: makes .venv, installs the app with
# its test tools, runs pytest (offscreen Qt, no GPU, no network, no ../shared needed).
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
