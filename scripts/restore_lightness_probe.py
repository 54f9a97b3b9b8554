"""Which step of the held-out fading the restore model misjudges (issue 24), on the ``tune`` half.

The held-out simulation (``export.fading.fade_overlay``) is applied with one of its steps left
out at a time (the random draws unchanged, so each photo's other steps are the same), and with
all of them left out (the photo as it is), and the photo restored by the shipped model. Printed per variant: mean ΔE00 to the truth of the faded and
the restored photo, the share removed, and the mean lightness error (L, restored minus truth) of
ours, of the classical stretch alone (where the network starts) and of the faded photo.

    .venv/bin/python scripts/restore_lightness_probe.py ../shared/data .data/extra --per-source 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from export import fading
from export.eval_restore import load_held_out, photo_seed
from rehue import contract, restore


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--per-source", type=int, default=5)
    p.add_argument("--max-side", type=int, default=768)
    p.add_argument("--model", type=Path, default=None)
    args = p.parse_args(argv)
    restorer = restore.Restorer(args.model)
    photos = load_held_out(args.folders, "tune", args.per_source, args.max_side)
    print(f"{len(photos)} photos of the 'tune' half, fade_overlay with a step left out")
    print(f"{'left out':<16}{'faded':>7}{'ours':>7}{'removed':>9}   L error: ours  stretch  faded")
    for without in [(), *((step,) for step in fading.OVERLAY_STEPS), fading.OVERLAY_STEPS]:
        rows = []
        for name, rgb8 in photos:
            truth = contract.to_unit_float(rgb8)
            faded8 = (fading.fade_overlay(truth, np.random.default_rng(photo_seed(name, 0)), without=frozenset(without)) * 255 + 0.5).astype(np.uint8)
            faded = contract.to_unit_float(faded8)
            ours = contract.to_unit_float(restore.apply(faded8, restorer.predict(faded8)))
            stretched = restore.stretched(faded, *restore.stretch(faded))
            truth_l = contract.rgb_to_lab(truth)[..., 0].mean()
            rows.append([contract.mean_ciede2000(truth, faded8), contract.mean_ciede2000(truth, ours),
                         *(contract.rgb_to_lab(x)[..., 0].mean() - truth_l for x in (ours, stretched, faded))])
        r = np.mean(rows, axis=0)
        print(f"{'all (unfaded)' if len(without) > 1 else without[0] if without else 'nothing':<16}{r[0]:7.2f}{r[1]:7.2f}"
              f"{f'{100 * (1 - r[1] / r[0]):8.0f}%' if r[0] > 0.5 else '        —'}"
              f"{r[2]:+16.2f}{r[3]:+9.2f}{r[4]:+7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
