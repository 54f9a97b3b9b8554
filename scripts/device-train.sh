#!/usr/bin/env bash
# Train on a lent GPU machine (the workplace's `device` tool), in phases that fit its 10-minute calls:
#   setup         install the carried wheels (.whl/) and copy the carried shards (.gpu/) to /tmp/data
#   start PLAN    copy more shards, start rehue-train in the background (it outlives the call), watch
#   watch SECS    print progress for SECS seconds (or until training ends)
#   fetch         copy the run's checkpoint, history and log to $OUT
#   run PLAN      start, watch until training ends, fetch: one call (a plan under ~8 minutes)
#   restart PLAN  copy newly carried shards, stop at the next checkpoint, resume over all photos
# What travels is at most 64 MiB a call: the tracked tree (~4 MB once models/*.onnx and the
# checkpoint are moved out), the wheels (.whl, 17 MB, first call only; they stay installed),
# an fp16 copy of the starting checkpoint (7 MB, e.g. .gpu/ckpt/init.pt, EXTRA="--init ..."),
# and the shards (~100 MB: two calls). So: call 1 `setup` + `start` on the shards of .gpu/c1;
# call 2, at once, `restart` with .gpu/c2 carried; then `watch` calls until the plan ends.
# The shards come from `rehue-shards ../shared/data --out .gpu/...` (compact JPEG copies).
# Lesson of 2026-11-24: the machine goes back 30 s after a call ends, and everything on it with it.
# Fetch a checkpoint at the end of *every* call (watch ... ; fetch), not only at the last one.
set -uo pipefail
phase=${1:?phase}
export PYTHONPATH=/tmp/site:/tmp/pkgs PYTHONUNBUFFERED=1
copy_data() { mkdir -p /tmp/data; [ -d .gpu ] && find .gpu -name '*.tar' -exec cp {} /tmp/data/ \; ; ls -la /tmp/data; }
watch() {
  local secs=$1 pid; pid=$(cat /tmp/run/pid 2>/dev/null || echo 0)
  for ((i = 0; i < secs / 10; i++)); do
    sleep 10
    kill -0 "$pid" 2>/dev/null || { echo "training process ended"; break; }
  done
  grep -E "validation|stage|pre-flight|photos:|done|Error|error|Traceback" /tmp/run/train.log | tail -n 12 | cut -c1-600
  tail -n 3 /tmp/run/stdout.log; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
}
case $phase in
  setup)
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
    copy_data; nvidia-smi -L; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" ;;
  start)
    copy_data
    rm -rf /tmp/pkgs && mkdir -p /tmp/pkgs && cp -r rehue /tmp/pkgs/rehue && cp -r export /tmp/pkgs/export
    mkdir -p /tmp/run
    setsid nohup python3 -m export.train --data /tmp/data --out /tmp/run --plan "${2:?plan}" --batch "${BATCH:-64}" \
      --lr "${LR:-1e-3}" --workers 14 --threads 4 --val-every 3 --ckpt-every 1 ${EXTRA:-} >/tmp/run/stdout.log 2>&1 &
    echo $! >/tmp/run/pid
    watch "${3:-540}"; bash "$0" fetch ;;
  watch) watch "${2:-540}"; bash "$0" fetch ;;  # every call brings the latest checkpoint home
  run) bash "$0" start "${2:?plan}" "${3:-560}" ;;
  restart)  # more shards were carried: stop at the next checkpoint, go on over all photos (--resume)
    copy_data
    pid=$(cat /tmp/run/pid); m0=$(stat -c %Y /tmp/run/last.pt 2>/dev/null || echo 0)
    for ((i = 0; i < 90; i++)); do sleep 1; [ "$(stat -c %Y /tmp/run/last.pt 2>/dev/null || echo 0)" != "$m0" ] && break; done
    sleep 2; kill -- "-$pid" 2>/dev/null; while kill -0 "$pid" 2>/dev/null; do sleep 1; done
    EXTRA="${EXTRA:-} --resume" bash "$0" start "${2:?plan}" "${3:-480}" ;;
  fetch)
    watch 0
    cp /tmp/run/history.jsonl /tmp/run/train.log /tmp/run/ab_prior.npy "$OUT"/ 2>&1
    # Files come back at most 16 MiB each: the live and averaged weights apart, without the
    # encoder's ImageNet head (the wheel has it).
    python3 - <<'PY'
import os, torch
ck = torch.load("/tmp/run/last.pt", map_location="cpu", weights_only=False)
keep = {k: v for k, v in ck.items() if k not in ("model", "ema")}
for part in ("model", "ema"):
    if part in ck:
        state = {k: v for k, v in ck[part].items() if not k.startswith("encoder.head.")}
        torch.save(keep | {"model": state}, os.path.join(os.environ["OUT"], f"{part}.pt"))
PY
    ls -la "$OUT" ;;
esac
