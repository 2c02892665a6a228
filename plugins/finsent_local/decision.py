"""Per-label decision biases: the label chosen is argmax(calibrated log-probability + bias of the label).

The calibrator makes the probabilities honest, but the most probable label is not the choice that
maximises macro-F1: a rare or easily confused label (positive sentences taken for neutral) is chosen too
seldom. One additive offset per label, fitted to maximise macro-F1 on out-of-fold predictions of the
training split (never the valid split), moves the decision boundaries without touching the
probabilities, so the reported confidence stays the calibrated probability of the chosen label.
"""

from __future__ import annotations

import numpy as np

#: offsets are searched on this grid (log-probability units); beyond +-2 a label would be chosen
#: against odds of e^2 = 7 to 1, never worth it for macro-F1 on a sane model
BIAS_SPAN = 2.0
BIAS_STEP = 0.02
#: the macro-F1 curve of one offset is averaged over this many neighbouring grid points before its
#: maximum is taken: the offset lands in the middle of a broad high region, not on a lucky spike
SMOOTHING_POINTS = 11
#: coordinate-ascent rounds over the labels (it settles after two or three)
MAX_ROUNDS = 6
#: out-of-fold accuracy may drop by at most this much for the macro-F1 gain
MAX_ACCURACY_LOSS = 0.005


def macro_f1(truth: np.ndarray, predicted: np.ndarray, n_labels: int) -> float:
    """Unweighted mean F1 over the labels present in `truth` or `predicted` (as scikit-learn computes it)."""
    true_counts = np.bincount(truth, minlength=n_labels)
    predicted_counts = np.bincount(predicted, minlength=n_labels)
    hits = np.bincount(truth[truth == predicted], minlength=n_labels)
    present = (true_counts + predicted_counts) > 0
    if not present.any():
        return 0.0
    f1 = 2.0 * hits[present] / (true_counts[present] + predicted_counts[present])
    return float(f1.mean())


def decide(log_probabilities: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """Index of the chosen label per row."""
    return np.asarray((log_probabilities + biases).argmax(axis=1))


def _best_offset(log_probabilities: np.ndarray, truth: np.ndarray, biases: np.ndarray, k: int) -> float:
    """The offset of label k that maximises smoothed macro-F1, the others held fixed."""
    n_labels = log_probabilities.shape[1]
    others = log_probabilities + biases
    others[:, k] = -np.inf
    rival, rival_score = others.argmax(axis=1), others.max(axis=1)
    own = log_probabilities[:, k]
    grid = np.linspace(-BIAS_SPAN, BIAS_SPAN, round(2 * BIAS_SPAN / BIAS_STEP) + 1)
    accuracy_floor = float(np.mean(decide(log_probabilities, np.zeros(n_labels)) == truth))
    accuracy_floor -= MAX_ACCURACY_LOSS
    f1 = np.empty(len(grid))
    allowed = np.empty(len(grid), dtype=bool)
    for i, offset in enumerate(grid):
        predicted = np.where(own + offset > rival_score, k, rival)
        allowed[i] = np.mean(predicted == truth) >= accuracy_floor
        f1[i] = macro_f1(truth, predicted, n_labels) if allowed[i] else 0.0
    # edge padding: the ends of the grid are not favoured or penalised by the smoothing window
    half = SMOOTHING_POINTS // 2
    padded = np.pad(f1, half, mode="edge")
    smooth = np.convolve(padded, np.ones(SMOOTHING_POINTS) / SMOOTHING_POINTS, mode="valid")
    smooth[~allowed] = -np.inf  # a smoothed peak may sit next to offsets that cost too much accuracy
    best = np.flatnonzero(smooth >= smooth.max() - 1e-12)
    return float(grid[best[np.argmin(np.abs(grid[best]))]])  # ties: the smallest move


def fit_decision_biases(log_probabilities: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Offsets (one per label, mean zero) maximising macro-F1 of `truth` by coordinate ascent.

    Accepted only if they raise the (unsmoothed) macro-F1 of the rows they were fitted on, and never at
    the cost of more than MAX_ACCURACY_LOSS of accuracy on them; otherwise all zero.
    """
    n_labels = log_probabilities.shape[1]
    zeros = np.zeros(n_labels)
    if len(truth) == 0 or n_labels < 2 or len(np.unique(truth)) < 2:
        return zeros
    biases = zeros.copy()
    for _ in range(MAX_ROUNDS):
        before = biases.copy()
        # only differences between offsets matter: label 0 stays the anchor while searching
        for k in range(1, n_labels):
            biases[k] = _best_offset(log_probabilities, truth, biases, k)
        if np.allclose(biases, before):
            break
    baseline = macro_f1(truth, decide(log_probabilities, zeros), n_labels)
    if macro_f1(truth, decide(log_probabilities, biases), n_labels) <= baseline:
        return zeros
    return biases - biases.mean()
