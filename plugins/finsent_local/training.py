"""How the local backend learns: TF-IDF features, one logistic scorer per label, then calibration.

Each label's scorer sees the features scaled by that label's naive-Bayes log-count ratios (NB-LR, Wang &
Manning 2012), which beats plain TF-IDF on short sentiment sentences. The three binary problems are
solved together, exactly, by L-BFGS: every iteration is one full pass over the training split and
reports one metric point, so the curve of train/valid loss and accuracy is the real one of the model
that is saved. (Stochastic gradient descent, used before, stopped about a point of accuracy short of
the optimum in cross-validation on the training split.) One-vs-rest scores are not probabilities: a
small calibrator is fitted on out-of-fold scores of the training split (never the valid split): a
temperature and a bias per label turn them into probabilities that sum to 1. The same out-of-fold
predictions then fit one decision bias per label for macro-F1 (see `decision`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.class_weight import compute_sample_weight

from finsent.contract import MetricPoint, Text
from finsent_local.decision import decide, fit_decision_biases, macro_f1
from finsent_local.features import Channel, Featurizer
from finsent_local.model_file import LinearModel

#: feature channels of each base model. Character n-grams seen in at least two training texts, alone,
#: won 5-fold cross-validation on the corpus's training split: adding word n-grams cost about a point,
#: keeping n-grams seen once cost about one.
BASE_MODELS: dict[str, tuple[Channel, ...]] = {
    "tfidf-logreg": (Channel("char", 1, 4, min_df=2),),
    "tfidf-kiwi-logreg": (Channel("char", 1, 4, min_df=2), Channel("morph", 1, 3)),
}
CALIBRATION_FOLDS = 3


@dataclass(frozen=True)
class TrainingPlan:
    base_model: str
    epochs: int
    alpha: float
    balanced: bool
    seed: int
    char_ngram_max: int | None = None

    def channels(self) -> list[Channel]:
        channels = list(BASE_MODELS[self.base_model])
        if self.char_ngram_max is not None:
            channels = [
                Channel(c.kind, min(c.ngram_min, self.char_ngram_max), self.char_ngram_max, c.min_df)
                if c.kind == "char"
                else c
                for c in channels
            ]
        return channels


def nb_ratios(features: sp.csr_matrix, is_label: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """log((share of feature f among the label's rows) / (share among the other rows)), per feature."""
    present = features.copy()
    present.data[:] = 1.0
    inside = smoothing + np.asarray(present[is_label].sum(axis=0)).ravel()
    outside = smoothing + np.asarray(present[~is_label].sum(axis=0)).ravel()
    return np.log((inside / inside.sum()) / (outside / outside.sum())).astype(np.float32)


class NBLogisticScorers:
    """One NB-scaled binary logistic scorer per label, all fitted at once by L-BFGS.

    Objective: the (label-balanced) mean log-loss of every label's scorer + alpha/2 * |W|^2, the same
    scale of `alpha` as scikit-learn's SGDClassifier. The labels' problems do not share parameters, so
    solving them together gives each its own optimum while one iteration = one pass over the data.
    """

    def __init__(
        self, features: sp.csr_matrix, y: np.ndarray, n_labels: int, alpha: float, balanced: bool
    ) -> None:
        self.n_labels, self.n_features = n_labels, features.shape[1]
        self.alpha = alpha
        self.ratios = np.vstack([nb_ratios(features, y == k) for k in range(n_labels)])
        self.scaled = [features.multiply(r).tocsr() for r in self.ratios]
        weights = compute_sample_weight("balanced", y) if balanced else np.ones(len(y))
        self.row_weight = weights / len(y)
        self.targets = np.stack([(y == k).astype(np.float64) for k in range(n_labels)])

    def _split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cut = self.n_labels * self.n_features
        return theta[:cut].reshape(self.n_labels, self.n_features), theta[cut:]

    def _objective(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, bias = self._split(theta)
        loss = 0.5 * self.alpha * float(np.sum(coef * coef))
        grad_coef, grad_bias = self.alpha * coef, np.zeros(self.n_labels)
        for k, (scaled, target) in enumerate(zip(self.scaled, self.targets, strict=True)):
            z = scaled @ coef[k] + bias[k]
            loss -= float(self.row_weight @ (target * log_expit(z) + (1.0 - target) * log_expit(-z)))
            residual = self.row_weight * (expit(z) - target)
            grad_coef[k] += scaled.T @ residual
            grad_bias[k] = residual.sum()
        return loss, np.concatenate([grad_coef.ravel(), grad_bias])

    def effective_weights(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weights, bias) for raw features: the NB scaling folds into the coefficients."""
        coef, bias = self._split(theta)
        return (coef * self.ratios).astype(np.float32), bias.astype(np.float64)

    def fit(
        self, max_iter: int, on_iteration: Callable[[np.ndarray, np.ndarray], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run up to `max_iter` iterations (fewer once converged); `on_iteration(weights, bias)` after each."""

        def callback(intermediate_result: Any) -> None:
            if on_iteration is not None:
                on_iteration(*self.effective_weights(intermediate_result.x))

        start = np.zeros(self.n_labels * (self.n_features + 1))
        result = minimize(
            self._objective,
            start,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter},
            callback=callback,
        )
        return self.effective_weights(result.x)


def _scores(features: sp.csr_matrix, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return np.asarray(features @ weights.T) + bias


def _curve_point(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(cross-entropy, accuracy) of the normalised one-vs-rest probabilities."""
    prob = 1.0 / (1.0 + np.exp(-np.clip(scores, -30, 30)))
    prob /= prob.sum(axis=1, keepdims=True)
    loss = float(-np.mean(np.log(np.clip(prob[np.arange(len(y)), y], 1e-12, None))))
    return loss, float(np.mean(prob.argmax(axis=1) == y))


def fit_calibrator(scores: np.ndarray, y: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Temperature and per-label bias (logits = scores / T + b) minimising the log-loss of held-out scores.

    Four numbers for three labels: enough to fix over- or under-confidence and the label balance, too few
    to overfit or to scramble the scorers' ranking, even on a small training split.
    """

    def loss(params: np.ndarray) -> float:
        logits = scores * np.exp(-params[0]) + params[1:]
        logits -= logits.max(axis=1, keepdims=True)
        log_prob = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        # A whisper of L2 keeps the biases finite when a label never appears in the training split.
        return float(-log_prob[np.arange(len(y)), y].mean() + 1e-4 * np.sum(params[1:] ** 2))

    start = np.zeros(n_labels + 1)
    result = minimize(loss, start, method="L-BFGS-B", bounds=[(-5.0, 5.0)] + [(-30.0, 30.0)] * n_labels)
    params = result.x if np.isfinite(result.fun) else start
    return np.eye(n_labels) * np.exp(-params[0]), params[1:].copy()


def _out_of_fold_scores(
    features: sp.csr_matrix, y: np.ndarray, labels: Sequence[str], plan: TrainingPlan
) -> np.ndarray:
    scores = np.zeros((len(y), len(labels)))
    smallest = int(np.bincount(y, minlength=len(labels)).min())
    folds = max(2, min(CALIBRATION_FOLDS, smallest))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=plan.seed)
    for fit_rows, held_rows in splitter.split(np.zeros(len(y)), y):
        scorers = NBLogisticScorers(features[fit_rows], y[fit_rows], len(labels), plan.alpha, plan.balanced)
        weights, bias = scorers.fit(plan.epochs)
        scores[held_rows] = _scores(features[held_rows], weights, bias)
    return scores


def train_model(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    valid_texts: Sequence[str],
    valid_labels: Sequence[str],
    labels: Sequence[str],
    plan: TrainingPlan,
    on_epoch: Callable[[MetricPoint], None],
    on_stage: Callable[[Text], None],
) -> LinearModel:
    """Train, reporting each epoch's metric point and each stage; returns the calibrated model."""
    index = {name: i for i, name in enumerate(labels)}
    y = np.array([index[label] for label in train_labels])
    y_valid = np.array([index[label] for label in valid_labels if label in index])
    valid_texts = [t for t, label in zip(valid_texts, valid_labels, strict=True) if label in index]

    featurizer = Featurizer(plan.channels())
    features = featurizer.fit_transform(train_texts)
    valid_features = featurizer.transform(valid_texts) if valid_texts else None
    on_stage(
        Text(
            f"Features: {features.shape[1]:,} TF-IDF columns from {len(train_texts):,} training texts",
            f"특성: 학습 문장 {len(train_texts):,}개에서 TF-IDF 열 {features.shape[1]:,}개",
        )
    )

    scorers = NBLogisticScorers(features, y, len(labels), plan.alpha, plan.balanced)
    steps = 0

    def report(weights: np.ndarray, bias: np.ndarray) -> None:
        nonlocal steps
        steps += 1
        train_loss, train_acc = _curve_point(_scores(features, weights, bias), y)
        valid_loss = valid_acc = None
        if valid_features is not None:
            valid_loss, valid_acc = _curve_point(_scores(valid_features, weights, bias), y_valid)
        on_epoch(
            MetricPoint(
                step=steps,
                epoch=float(steps),
                train_loss=round(train_loss, 5),
                train_accuracy=round(train_acc, 5),
                valid_loss=None if valid_loss is None else round(valid_loss, 5),
                valid_accuracy=None if valid_acc is None else round(valid_acc, 5),
            )
        )

    weights, bias = scorers.fit(plan.epochs, report)
    if steps < plan.epochs:
        on_stage(
            Text(
                f"Converged after {steps} of at most {plan.epochs} passes",
                f"최대 {plan.epochs}회 중 {steps}회 만에 수렴했습니다",
            )
        )
    on_stage(
        Text(
            f"Calibrating probabilities on {CALIBRATION_FOLDS}-fold out-of-fold scores of the training split",
            f"학습 데이터의 {CALIBRATION_FOLDS}겹 교차 점수로 확률을 보정하는 중입니다",
        )
    )
    held_out = _out_of_fold_scores(features, y, labels, plan)
    calib, calib_bias = fit_calibrator(held_out, y, len(labels))
    model = LinearModel(
        labels=list(labels),
        featurizer=featurizer,
        weights=weights,
        bias=bias,
        calib=calib,
        calib_bias=calib_bias,
        meta={
            "base_model": plan.base_model,
            "epochs": plan.epochs,
            "passes": steps,
            "alpha": plan.alpha,
            "n_train": len(y),
        },
    )
    model.decision_bias = _fitted_decision_biases(model, held_out, y, on_stage)
    return model


def _fitted_decision_biases(
    model: LinearModel, held_out: np.ndarray, y: np.ndarray, on_stage: Callable[[Text], None]
) -> np.ndarray:
    """Decision biases fitted on the calibrated out-of-fold predictions; their effect goes into meta."""
    log_probabilities = model.log_probabilities_from_scores(held_out)
    biases = fit_decision_biases(log_probabilities, y)
    n_labels = len(model.labels)
    before = decide(log_probabilities, np.zeros(n_labels))
    after = decide(log_probabilities, biases)
    model.meta["decision_bias_oof"] = {
        "macro_f1_before": round(macro_f1(y, before, n_labels), 5),
        "macro_f1_after": round(macro_f1(y, after, n_labels), 5),
        "accuracy_before": round(float(np.mean(before == y)), 5),
        "accuracy_after": round(float(np.mean(after == y)), 5),
    }
    offsets = ", ".join(f"{name} {b:+.2f}" for name, b in zip(model.labels, biases, strict=True))
    oof = model.meta["decision_bias_oof"]
    change = (
        f"{oof['macro_f1_before']:.4f} -> {oof['macro_f1_after']:.4f}",
        f"{oof['accuracy_before']:.4f} -> {oof['accuracy_after']:.4f}",
    )
    on_stage(
        Text(
            f"Decision biases for macro-F1 ({offsets}): out-of-fold macro-F1 {change[0]}, accuracy {change[1]}",
            f"매크로 F1을 위한 라벨별 결정 편향({offsets}): 교차 매크로 F1 {change[0]}, 정확도 {change[1]}",
        )
    )
    return biases
