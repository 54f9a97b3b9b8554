"""Issue 24 experiment: clamp the restore network's amount from below by how far the classical
stretch alone moves the print ("a print the stretch moves a lot is faded whatever it shows").

For each held-out photo (``--split tune`` for the choice) faded by the held-out ``fade_overlay``
(drawn severity and severity 1), and the same photo unfaded, it records the network's own amount,
the stretch's move (mean ΔE00 between the overview and the stretched overview) and the error to the
truth at amounts 0, 0.1, …, 1; then prints, for floors ``clip((move - lo) / (hi - lo), 0, 1) × top``,
the error removed (``rehue.restore.amount_floor``, the engine's own rule), the unfaded photos' change and the offer rate at 8 % of unfaded photos offered.
The tests' synthetic scenes (``tests/helpers.faded_scene``) are printed beside, as the constraint
they are (the test half is not looked at here).

    .venv/bin/python scripts/amount_floor.py ../shared/data .data/extra --model runs/restore/anchor.onnx
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from export import eval_restore, fading  # noqa: E402
from rehue import contract, restore  # noqa: E402

AMOUNTS = np.linspace(0.0, 1.0, 11)


def measure(r: restore.Restorer, truth8: np.ndarray, photo8: np.ndarray) -> dict[str, np.ndarray | float]:
    """The network's amount, the stretch's move, and error/change at each amount of the full transform."""
    full, amount, small = r.full_restoration(photo8)
    move = restore.stretch_move(small, full.gain, full.offset)
    error, change = [], []
    for a in AMOUNTS:
        out = restore.apply(photo8, full.blended(float(a)))
        error.append(contract.mean_ciede2000(truth8, out))
        change.append(contract.mean_ciede2000(photo8, out))
    return {"amount": amount, "move": move, "error": np.array(error), "change": np.array(change)}


def at(row: dict, amount: float, key: str) -> float:
    return float(np.interp(amount, AMOUNTS, row[key]))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--split", default="tune")
    p.add_argument("--per-source", type=int, default=20)
    p.add_argument("--max-side", type=int, default=384)
    args = p.parse_args()
    import helpers  # tests/helpers.py: the synthetic scenes

    r = restore.Restorer(args.model)
    photos = eval_restore.load_held_out(args.folders, args.split, args.per_source, args.max_side)
    sets: dict[str, list[dict]] = {"drawn": [], "sev1": [], "unfaded": [], "scenes": [], "scenes-unfaded": []}
    cache = args.model.with_suffix(f".floor-{args.split}-{args.per_source}-{args.max_side}.pkl")
    if cache.exists():
        sets = pickle.loads(cache.read_bytes())
        photos = []  # measured before
    for name, rgb8 in photos:
        truth = contract.to_unit_float(rgb8)
        for key, severity in (("drawn", None), ("sev1", 1.0)):
            faded = fading.fade_overlay(truth, np.random.default_rng(eval_restore.photo_seed(name, 0)), severity)
            sets[key].append(measure(r, rgb8, (faded * 255 + 0.5).astype(np.uint8)))
        sets["unfaded"].append(measure(r, rgb8, rgb8))
    if photos:
        cache.write_bytes(pickle.dumps(sets))
    for seed in range(10):  # tests/test_restore.py's faded_scene
        truth8 = helpers.colour_scene(seed=seed)
        faded = fading.fade_overlay(contract.to_unit_float(truth8), np.random.default_rng(seed), 1.0)
        sets["scenes"].append(measure(r, truth8, (faded * 255 + 0.5).astype(np.uint8)))
    for seed in range(5, 10):
        scene = helpers.colour_scene(seed=seed)
        sets["scenes-unfaded"].append(measure(r, scene, scene))
    print(f"{len(sets['unfaded'])} photos ({args.split}), {args.max_side} px")
    for key, rows in sets.items():
        moves = np.array([x["move"] for x in rows])
        amounts = np.array([x["amount"] for x in rows])
        print(f"{key:<15} stretch move: median {np.median(moves):5.2f} p10 {np.percentile(moves, 10):5.2f} "
              f"p90 {np.percentile(moves, 90):5.2f}   network amount: median {np.median(amounts):.2f}")
    print(f"{'lo':>4}{'hi':>5}{'top':>5} | removed drawn  sev1  scenes (min) | unfaded change  scenes-unf | offer thr  faded offered")
    grid = [(None, None, 0.0)] + list(itertools.product((2, 4, 6, 8, 10), (8, 12, 16, 20), (0.6, 0.8, 1.0)))
    for lo, hi, top in grid:
        if lo is not None and hi <= lo:
            continue

        floor = {"from_move": lo, "full_move": hi, "top": top} if lo is not None else None

        def amt(x: dict, floor: dict | None = floor) -> float:
            return max(x["amount"], restore.amount_floor(x["move"], floor))

        removed = {}
        for key in ("drawn", "sev1", "scenes"):
            rows = sets[key]
            removed[key] = 1 - np.mean([at(x, amt(x), "error") for x in rows]) / np.mean([x["error"][0] for x in rows])
        scene_min = min(1 - at(x, amt(x), "error") / x["error"][0] for x in sets["scenes"])
        unfaded = np.mean([at(x, amt(x), "error") for x in sets["unfaded"]])
        scenes_unfaded = max(at(x, amt(x), "error") for x in sets["scenes-unfaded"])
        threshold = float(np.quantile([at(x, amt(x), "change") for x in sets["unfaded"]], 0.92))
        offered = np.mean([at(x, amt(x), "change") >= threshold for x in sets["drawn"]])
        print(f"{lo if lo is not None else '-':>4}{hi if hi is not None else '-':>5}{top:>5} | "
              f"{100 * removed['drawn']:>12.1f}%{100 * removed['sev1']:>5.1f}%{100 * removed['scenes']:>7.1f}% ({100 * scene_min:5.1f}%) | "
              f"{unfaded:>14.2f}{scenes_unfaded:>11.2f} | {threshold:>9.2f}{100 * offered:>14.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
