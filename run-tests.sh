#!/usr/bin/env bash
# The one command that runs Rehue's tests on a fresh machine: makes .venv, installs the app with
# the CPU runtime and its test tools (again only when pyproject.toml changed), runs pytest
# (offscreen Qt, no GPU, no network, no ../shared needed).
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$py" -m venv .venv
stamp=.venv/.rehue-tests-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[cpu,dev]'
  touch "$stamp"
fi
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
