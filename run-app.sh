#!/usr/bin/env bash
# The one command that installs and starts Rehue from a checkout: makes .venv, installs the app
# and the shipped model, and opens the window (extra arguments: photos or folders to open).
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
exec .venv/bin/rehue "$@"
