"""``rehue-shards``: re-encode training photos into compact .tar shards to carry to a GPU machine.

Each photo that training would use (colour, readable, not a BSD100 copy) is shrunk to at most
``--max-side`` px long (the app's working size: nothing larger is ever trained on) and stored as
JPEG under its original name, so the name-hash validation split is unchanged. One shard per
source, split into parts of at most ``--part-mb`` MB.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np

from export import data


def _encode(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def write_shards(photos: data.PhotoSet, out: Path, quality: int, part_mb: float, source_caps: dict[str, int]) -> list[Path]:
    """Write ``photos`` as ``<source>-<part>.tar`` files under ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    rng = np.random.default_rng(0)
    for src in sorted(set(photos.sources.tolist())):
        idx = np.nonzero(photos.sources == src)[0]
        cap = source_caps.get(src)
        if cap and len(idx) > cap:
            # Keep every validation photo; cap the training ones.
            val = [i for i in idx if data.is_validation(photos.names[i])]
            rest = [i for i in idx if not data.is_validation(photos.names[i])]
            idx = np.array(sorted(val + list(rng.choice(rest, cap - len(val), replace=False))))
        part, size, tar = 0, 0, None
        for i in idx:
            blob = _encode(photos.images[i], quality)
            if tar is None or size + len(blob) > part_mb * 1e6:
                if tar is not None:
                    tar.close()
                path = out / f"{src}-{part:02d}.tar"
                tar, size, part = tarfile.open(path, "w"), 0, part + 1
                written.append(path)
            info = tarfile.TarInfo(str(photos.names[i]))
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
            size += len(blob) + 1024
        if tar is not None:
            tar.close()
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rehue-shards", description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="folder of .tar shards or photos (../shared/data)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-side", type=int, default=320)
    p.add_argument("--quality", type=int, default=88)
    p.add_argument("--part-mb", type=float, default=30.0)
    p.add_argument("--cap", action="append", default=[], metavar="SOURCE=N", help="at most N photos of SOURCE")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    caps = {k: int(v) for k, v in (c.split("=", 1) for c in args.cap)}
    photos = data.load_photo_set(args.data, args.max_side, args.workers)
    for path in write_shards(photos, args.out, args.quality, args.part_mb, caps):
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
