"""Colour that holds together: the automatic chroma propagated from the cells the network is sure
of to the cells it is not, across smooth lightness (issue 22).

Where the network is unsure, each 4×4 cell of a plain backdrop or a coat picks its own mode, and
muting only makes the patches paler. Here every cell's colour is the solution of one small sparse
system: stay near your own colour in proportion to how sure the network is (low entropy of its
distribution), and agree with your 4 neighbours in proportion to how alike your lightness is
(Levin et al. 2004's affinity, on cells). A sure cell keeps its colour; an unsure one takes the
colour of the sure cells its plain region connects it to. One sparse solve (SciPy), once per photo
(not per hint edit).
"""

from __future__ import annotations

import cv2
import numpy as np

from rehue import contract

# Chosen on the tune half (export/tune_propagation.py: 166 photos, 12 sources, 36 settings; the
# grid and the choice are in models/MODEL_CARD.md): the best balance of dB, ΔE00, colourfulness and
# blotches. More smoothing (λ 8) or a steeper confidence (p 6–8) gained up to 0.2 dB more and
# took blotches far below truth's, but cost colourfulness on every source; λ 0.25 left the blotches
# (4.5–7.3 %, four settings of a third grid that was stopped there).
SMOOTHNESS = 4.0  # λ: how strongly neighbouring cells of alike lightness agree
L_SIGMA = 3.0  # L units: lightness difference at which two neighbours' affinity falls to e^-1/2
SURE_POWER = 4.0  # confidence = (1 - normalised entropy) ** SURE_POWER
MUTE_GAIN = 0.25  # muting of unsure cells before propagation (the graph's own is 1.0): less, as they now take a neighbour's colour


def confidence(entropy: np.ndarray, power: float = SURE_POWER) -> np.ndarray:
    """(hc, wc) normalised entropy of the network's distributions -> confidence in (0, 1]: 1 for a
    one-bin certainty, ~0 for a flat distribution."""
    return np.float32(1e-3) + np.clip(1.0 - entropy, 0.0, 1.0).astype(np.float32) ** np.float32(power)


def cell_lightness(l_work: np.ndarray, hc: int, wc: int) -> np.ndarray:
    """(h, w) L -> (hc, wc) mean L per 4×4 cell (the padded border takes the nearest cells' L)."""
    c = contract.PROBS_STRIDE
    ph, pw = hc * c, wc * c
    padded = np.pad(l_work, ((0, ph - l_work.shape[0]), (0, pw - l_work.shape[1])), mode="edge")
    return padded.reshape(hc, c, wc, c).mean(axis=(1, 3)).astype(np.float32)


def propagate(cells_ab: np.ndarray, sure: np.ndarray, l_cells: np.ndarray, smoothness: float = SMOOTHNESS,
              l_sigma: float = L_SIGMA) -> np.ndarray:
    """(hc, wc, 2) chroma per cell, (hc, wc) confidence, (hc, wc) L -> (hc, wc, 2): the minimiser of
    Σ sure·|c − ab|² + smoothness·Σ_neighbours affinity·|c_i − c_j|², affinity = exp(−ΔL²/2σ²).

    One sparse symmetric system (diag(sure) + graph Laplacian) for both channels, solved exactly
    (SuperLU): 5–9 ms for the 80 × 60 cells of a 320 px photo on one core, where conjugate
    gradients needed 60 iterations and 40 ms to cross a plain backdrop."""
    import scipy.sparse as sparse
    from scipy.sparse.linalg import spsolve

    hc, wc = sure.shape
    n = hc * wc
    idx = np.arange(n).reshape(hc, wc)
    ax = smoothness * np.exp(-np.diff(l_cells, axis=1).astype(np.float64) ** 2 / (2 * l_sigma**2))
    ay = smoothness * np.exp(-np.diff(l_cells, axis=0).astype(np.float64) ** 2 / (2 * l_sigma**2))
    i = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    j = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    w = np.concatenate([ax.ravel(), ay.ravel()])
    degree = np.bincount(i, w, minlength=n) + np.bincount(j, w, minlength=n)
    a = sparse.coo_matrix((np.concatenate([sure.ravel().astype(np.float64) + degree, -w, -w]),
                           (np.concatenate([idx.ravel(), i, j]), np.concatenate([idx.ravel(), j, i]))), shape=(n, n)).tocsc()
    b = sure.reshape(-1, 1).astype(np.float64) * cells_ab.reshape(-1, 2)
    return np.asarray(spsolve(a, b), dtype=np.float32).reshape(hc, wc, 2)


def consistent_cells(ab: np.ndarray, entropy: np.ndarray, l_work: np.ndarray, mute_gain: float = MUTE_GAIN,
                     power: float = SURE_POWER, **kw) -> np.ndarray:
    """The network's unmuted annealed mean (hc, wc, 2) and entropy (hc, wc) per cell
    (``contract.anneal_and_entropy``) -> chroma per cell that agrees with itself over plain
    regions: muted by ``mute_gain``, then ``propagate``d with the cells' confidence."""
    hc, wc = entropy.shape
    return propagate(contract.mute(ab, entropy, mute_gain), confidence(entropy, power), cell_lightness(l_work, hc, wc), **kw)


def upsampled_change(ab: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``ab`` (h, w, 2), the bilinear upsampling of the cells ``before``, moved to ``after``: only
    the change is upsampled (as the graph upsamples), so unchanged cells stay exactly as they were."""
    h, w = ab.shape[:2]
    hc, wc = before.shape[:2]
    c = contract.PROBS_STRIDE
    change = cv2.resize(np.ascontiguousarray(after - before), (wc * c, hc * c), interpolation=cv2.INTER_LINEAR)[:h, :w]
    return np.ascontiguousarray(ab + change, dtype=np.float32)
