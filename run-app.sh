#!/usr/bin/env bash
# The one command that installs and starts Rehue from a checkout: makes .venv, installs the app,
# the shipped model and the right ONNX Runtime (the GPU build when nvidia-smi sees an NVIDIA card,
# else the CPU one), then opens the window; extra arguments are photos or folders to open.
# Installs only on the first run or when pyproject.toml changed; later runs start at once.
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python3}
extra=${REHUE_RUNTIME:-}
if [ -z "$extra" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q "^GPU"; then extra=gpu; else extra=cpu; fi
fi
stamp=.venv/.rehue-installed-$extra
if [ ! -x .venv/bin/python ]; then
  echo "First run: installing Rehue into .venv (a minute or two)..." >&2
  "$py" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Rehue with the $extra runtime (details in .venv/install.log)..." >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  other=$([ "$extra" = gpu ] && echo onnxruntime || echo onnxruntime-gpu)
  .venv/bin/python -m pip uninstall -q -y "$other" >/dev/null 2>&1 || true  # never both: they are one import
  if ! .venv/bin/python -m pip install --progress-bar off -e ".[$extra]" >.venv/install.log 2>&1; then
    tail -n 30 .venv/install.log >&2
    echo "Installing Rehue failed; the whole log is .venv/install.log" >&2
    exit 1
  fi
  echo "Installed." >&2
  rm -f .venv/.rehue-installed-*
  touch "$stamp"
fi
exec .venv/bin/rehue "$@"
