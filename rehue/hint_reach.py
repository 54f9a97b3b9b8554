"""Where a hint acts: the object it was placed on, following its edges, fading with distance.

The network sees the hints and answers with a new chroma for the whole photo; left alone, one red
hint on a roof could redden trees and sky of a similar gray elsewhere. A user places a hint to fix
one thing and expects everything else to stay as it was, so the engine keeps the network's answer
only where each hint *reaches* and the automatic colours everywhere else:

1. ``reach_weights``: for each hint, a weight in [0, 1] per pixel from a geodesic distance over
   the photo's 4×4 cells: a step to a neighbouring cell costs its length plus how different the two
   cells are — in the network's own encoder features at that scale (a learned prior of what belongs
   together: the texture of a stone tower is one thing, the sky beside it another) and, for strong
   edges, in lightness. A boundary is a wall and a disconnected region of the same gray is far away;
   the weight falls off as a Gaussian of that distance with the hint's ``reach`` (a fraction of the
   photo's long side, what the brush size sets). Within that reach the network has its say
   (``carried``): where it carried the hint's colour along the object the weight stays, where it
   left a cell alone the weight drops to ``CARRY_GATE`` — the engine follows the network's idea
   of the object instead of painting a disc (on the tune half: one hint's change outside its
   object 2.31 → 1.82 ΔE00, inside 12.9 → 12.0, ten hints' PSNR unchanged).
2. ``blend``: automatic chroma + weight × (hinted chroma − automatic chroma), then each hint's
   remaining difference from its own colour (measured over the hint's core) spread with its own
   weight, so the hinted object takes the hinted colour. Two hints on two objects each keep their
   own object.

Computed on 4×4 cells of the working image (the network's own chroma resolution), a few
milliseconds per preview.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from rehue import contract
from rehue.contract import Hint

CELL = contract.PROBS_STRIDE
FUSE_STRENGTH = 6.0  # a hint with full weight adds -STRENGTH × d² / (2 SIGMA²) to a bin's log-probability...
FUSE_SIGMA_AB = 15.0  # ... d the bin's distance to the hint colour, Lab units
FEATURE_COST = 1.0  # cells of distance per median step of the encoder's stride-4 features
EDGE_COST = 1.5  # cells of distance per unit of Lab L difference (no features), ...
EDGE_FREE = 12.0  # ... or, with features, per unit beyond this much (texture is not an edge)
MAX_SWEEPS = 400
CARRY_MIN_AB = 6.0  # where the automatic colour is this close to a hint's, the hint has nothing to carry
CARRY_GATE = 0.3  # within a hint's reach, a cell the network did not carry it to keeps this share of its weight


def cell_lightness(l_work: np.ndarray, cell: int = CELL) -> np.ndarray:
    """Mean L of each cell (edge-padded): (h, w) -> (ceil(h/cell), ceil(w/cell)) float32."""
    h, w = l_work.shape
    hc, wc = -(-h // cell), -(-w // cell)
    padded = np.pad(l_work, ((0, hc * cell - h), (0, wc * cell - w)), mode="edge")
    return padded.reshape(hc, cell, wc, cell).mean(axis=(1, 3)).astype(np.float32)


def step_costs(l_cells: np.ndarray, features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cost of a step between horizontal (hc, wc-1) and vertical (hc-1, wc) neighbour cells."""
    dl_x, dl_y = np.abs(np.diff(l_cells, axis=1)), np.abs(np.diff(l_cells, axis=0))
    if features is None:
        return 1.0 + EDGE_COST * dl_x, 1.0 + EDGE_COST * dl_y
    f = features[:, : l_cells.shape[0], : l_cells.shape[1]]
    df_x = np.sqrt((np.diff(f, axis=2) ** 2).sum(0))
    df_y = np.sqrt((np.diff(f, axis=1) ** 2).sum(0))
    scale = float(np.median(np.concatenate([df_x.ravel(), df_y.ravel()]))) + 1e-6
    step_x = 1.0 + FEATURE_COST * df_x / scale + EDGE_COST * np.maximum(dl_x - EDGE_FREE, 0)
    step_y = 1.0 + FEATURE_COST * df_y / scale + EDGE_COST * np.maximum(dl_y - EDGE_FREE, 0)
    return step_x.astype(np.float32), step_y.astype(np.float32)


def geodesic_distance(l_cells: np.ndarray, seeds: Sequence[tuple[int, int]], limit: float,
                      features: np.ndarray | None = None) -> np.ndarray:
    """Edge-aware distance (in cells) from each seed (row, col) to every cell, (K, hc, wc) float32.

    Relaxed by repeated sweeps over the four neighbour directions (vectorised over all cells and
    seeds) until nothing changes; distances beyond ``limit`` are not needed and stop the sweeps."""
    k = len(seeds)
    hc, wc = l_cells.shape
    dist = np.full((k, hc, wc), np.inf, np.float32)
    for i, (r, c) in enumerate(seeds):
        dist[i, r, c] = 0.0
    step_x, step_y = step_costs(l_cells, features)
    for _ in range(MAX_SWEEPS):
        before = dist.copy()
        np.minimum(dist[:, :, 1:], dist[:, :, :-1] + step_x, out=dist[:, :, 1:])
        np.minimum(dist[:, :, :-1], dist[:, :, 1:] + step_x, out=dist[:, :, :-1])
        np.minimum(dist[:, 1:], dist[:, :-1] + step_y, out=dist[:, 1:])
        np.minimum(dist[:, :-1], dist[:, 1:] + step_y, out=dist[:, :-1])
        changed = dist < before
        if not changed.any() or not (dist[changed] < limit).any():
            break
    return dist


def carried(auto_cells: np.ndarray, hinted_cells: np.ndarray, hints: Sequence[Hint]) -> np.ndarray:
    """Per hint, the share of the way from each cell's automatic colour to the hint's colour that
    the network itself went when it saw the hints: (K, hc, wc) float32 in [0, 1]; 1 where the
    automatic colour already is the hint's (nothing to tell). ``auto_cells``/``hinted_cells``: the
    network's chroma per cell without and with the hints, (hc, wc, 2) Lab units."""
    colours = np.array([[h.a, h.b] for h in hints], np.float32)[:, None, None, :]
    wanted = colours - auto_cells[None]
    moved = (hinted_cells - auto_cells)[None]
    norm_w = np.linalg.norm(wanted, axis=-1)
    share = np.clip((moved * wanted).sum(-1) / np.maximum(norm_w, 1e-3) ** 2, 0.0, 1.0)
    return np.where(norm_w > CARRY_MIN_AB, share, 1.0).astype(np.float32)


def cell_weights(l_work: np.ndarray, hints: Sequence[Hint], features: np.ndarray | None = None,
                 carried_cells: np.ndarray | None = None) -> np.ndarray:
    """Per hint, how strongly it acts on each 4×4 cell: (K, hc, wc) float32 in [0, 1].

    ``carried_cells`` (``carried``'s output): within a hint's reach, the network says where its
    object is — a cell it carried the hint to as far as the hint's own cell keeps its full
    weight, one it left alone keeps ``CARRY_GATE`` of it."""
    l_cells = cell_lightness(l_work)
    hc, wc = l_cells.shape
    if not hints:
        return np.zeros((0, hc, wc), np.float32)
    seeds = [(int(np.clip(hint.y * hc, 0, hc - 1)), int(np.clip(hint.x * wc, 0, wc - 1))) for hint in hints]
    reach_cells = np.array([max(0.5, hint.reach * max(hc, wc)) for hint in hints], np.float32)
    dist = geodesic_distance(l_cells, seeds, limit=float(3 * reach_cells.max()), features=features)
    weights = np.exp(-0.5 * (dist / reach_cells[:, None, None]) ** 2)
    if carried_cells is not None:
        c = carried_cells[:, :hc, :wc]
        own = np.array([c[i, r, col] for i, (r, col) in enumerate(seeds)], np.float32)[:, None, None]
        # Relative to the hint's own cell, but never to less than 0.2 of the way: where the network
        # hardly moved even there (a network that ignores hints), the weights shrink everywhere.
        gate = np.clip(c / np.maximum(own, 0.2), 0.0, 1.0)
        weights = weights * (CARRY_GATE + (1 - CARRY_GATE) * gate)
    return weights.astype(np.float32)


def to_pixels(weights_cells: np.ndarray, h: int, w: int) -> np.ndarray:
    """Cell weights (K, hc, wc) bilinearly up to the working image (K, h, w), half-cell centres as
    the network's own chroma is upsampled."""
    k, hc, wc = weights_cells.shape
    out = np.empty((k, h, w), np.float32)
    for i in range(k):
        out[i] = cv2.resize(weights_cells[i], (wc * CELL, hc * CELL), interpolation=cv2.INTER_LINEAR)[:h, :w]
    return out


def fuse(probs: np.ndarray, weights_cells: np.ndarray, hints: Sequence[Hint], bins: np.ndarray,
         temperature: float, base_ab: np.ndarray | None = None) -> np.ndarray:
    """The network's distributions with each hint folded in where it reaches, decoded with the
    graph's annealed mean: (hc, wc, 2) Lab units.

    A hint is a soft observation of the colour of the cells it reaches: it multiplies their
    distribution by a Gaussian around its colour, so a cell torn between a red and a blue shirt
    takes the hinted mode (and keeps its own shading) instead of a flat shift of colour. Only the
    cells a hint reaches are decoded again (the rest keep ``base_ab``, the graph's own decoding,
    muted where unsure); a reached cell's distribution is sharpened by the hint, so it needs no
    muting."""
    q, hc, wc = probs.shape
    wts = weights_cells[:, :hc, :wc] * np.float32(FUSE_STRENGTH / (2 * FUSE_SIGMA_AB**2))
    total = wts.sum(axis=0)  # (hc, wc)
    out = np.zeros((hc, wc, 2), np.float32) if base_ab is None else base_ab[:hc, :wc].copy()
    # Cells a hint reaches with under 2 % weight: the blend takes under 2 % of their change anyway.
    reached = weights_cells[:, :hc, :wc].max(axis=0) > 0.02
    if not reached.any():
        return out
    b = bins.astype(np.float32)
    colours = np.array([[h.a, h.b] for h in hints], np.float32)  # (K, 2)
    idx = np.nonzero(reached.ravel())[0]
    p = probs.reshape(q, -1)[:, idx]  # (Q, n): only the cells a hint reaches
    t = total.ravel()[idx]
    pull = np.einsum("kn,kc->cn", wts.reshape(len(hints), -1)[:, idx], colours)  # (2, n)
    # sum_k w_k |bin - c_k|² = |bin|² W - 2 bin · sum_k w_k c_k (+ a per-cell constant)
    log_post = np.log(np.maximum(p, 1e-8))
    log_post -= (b**2).sum(1)[:, None] * t[None]
    log_post += 2 * np.einsum("qc,cn->qn", b, pull)
    out.reshape(-1, 2)[idx] = contract.anneal(log_post, b, temperature)
    return out


def reach_weights(l_work: np.ndarray, hints: Sequence[Hint], features: np.ndarray | None = None) -> np.ndarray:
    """Per hint, how strongly it acts on each pixel of the working image: (K, h, w) float32 in [0, 1].

    ``features``: the encoder's stride-4 output for this photo, (C, ≥hc, ≥wc); without it the
    cells' lightness alone decides where a hint stops."""
    h, w = l_work.shape
    return to_pixels(cell_weights(l_work, hints, features), h, w)


def blend(ab_auto: np.ndarray, ab_hinted: np.ndarray, l_work: np.ndarray, hints: Sequence[Hint],
          weights: np.ndarray | None = None) -> np.ndarray:
    """The chroma the user sees: (h, w, 2) Lab units; automatic where no hint reaches.

    ``ab_auto``/``ab_hinted``: the network's chroma without and with the hints, (h, w, 2)."""
    if not hints:
        return ab_auto
    if weights is None:
        weights = reach_weights(l_work, hints)
    reach = weights.max(axis=0)  # (h, w)
    out = ab_auto + reach[..., None] * (ab_hinted - ab_auto)
    # Each hint's remaining difference from its own colour, measured over its core (where its
    # weight is high: the nearer half of its reach) and spread over its own region, so the hinted
    # object takes the hinted colour even where the network's answer did not follow the hint, and
    # a hint at the colour already there changes nothing.
    num = np.zeros(out.shape, np.float32)
    den = np.zeros(out.shape[:2], np.float32)
    cells = out[CELL // 2 :: CELL, CELL // 2 :: CELL].reshape(-1, 2)  # one pixel per cell: enough for a mean
    for hint, wk in zip(hints, weights):
        core = (wk[CELL // 2 :: CELL, CELL // 2 :: CELL] ** 4).reshape(-1)
        total = float(core.sum())
        if total <= 1e-6:
            continue
        residual = np.array([hint.a, hint.b], np.float32) - (core @ cells) / total
        num += wk[..., None] * residual
        den += wk
    out += num / np.maximum(den, 1.0)[..., None]
    return out.astype(np.float32)


def blend_probs(probs_auto: np.ndarray, probs_hinted: np.ndarray, weights_cells: np.ndarray) -> np.ndarray:
    """The distributions behind the suggested colours, with the same locality: (Q, h4, w4).
    ``weights_cells``: ``cell_weights``' output (K, ≥h4, ≥w4)."""
    if len(weights_cells) == 0:
        return probs_auto
    _, h4, w4 = probs_auto.shape
    reach = weights_cells[:, :h4, :w4].max(axis=0)
    return probs_auto + reach[None] * (probs_hinted - probs_auto)
