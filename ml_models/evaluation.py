"""Classification metrics in plain numpy, with bootstrap confidence intervals.

Accuracy uses argmax, or for a binary model its stored decision threshold on the positive
class. ROC AUC is the Mann-Whitney statistic (ties count one half); for more than two classes
it is the unweighted mean of one-vs-rest AUCs over the classes present.
"""

from __future__ import annotations

import numpy as np

BOOTSTRAP_SAMPLES = 1000


def decide(
    probabilities: np.ndarray, *, threshold: float | None = None, positive_class: int | None = None
) -> np.ndarray:
    """Predicted class per row: the thresholded positive class for binary models, else argmax."""
    probabilities = np.asarray(probabilities)
    if threshold is not None and probabilities.shape[1] == 2 and positive_class is not None:
        positive = probabilities[:, positive_class] >= threshold
        return np.where(positive, positive_class, 1 - positive_class).astype(np.int64)
    return probabilities.argmax(axis=1).astype(np.int64)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    return matrix


def per_class_scores(matrix: np.ndarray, classes) -> dict[str, dict]:
    scores = {}
    for index, name in enumerate(classes):
        true_positive = matrix[index, index]
        predicted = matrix[:, index].sum()
        actual = matrix[index, :].sum()
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(actual)}
    return scores


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)
    return (last_rank - (counts - 1) / 2.0)[inverse]


def binary_auc(is_positive: np.ndarray, scores: np.ndarray) -> float | None:
    is_positive = np.asarray(is_positive, dtype=bool)
    positives, negatives = int(is_positive.sum()), int((~is_positive).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = _ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[is_positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def roc_auc(labels: np.ndarray, probabilities: np.ndarray, *, positive_class: int | None = None) -> float | None:
    labels = np.asarray(labels)
    if probabilities.shape[1] == 2:
        positive = 1 if positive_class is None else positive_class
        return binary_auc(labels == positive, probabilities[:, positive])
    aucs = [binary_auc(labels == k, probabilities[:, k]) for k in range(probabilities.shape[1])]
    defined = [auc for auc in aucs if auc is not None]
    return float(np.mean(defined)) if defined else None


def point_metrics(labels, probabilities, classes, *, threshold=None, positive_class=None) -> dict:
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = decide(probabilities, threshold=threshold, positive_class=positive_class)
    matrix = confusion_matrix(labels, predicted, len(classes))
    per_class = per_class_scores(matrix, classes)
    present = [name for name, score in per_class.items() if score["support"] > 0]
    return {
        "n": int(len(labels)),
        "accuracy": float((predicted == labels).mean()) if len(labels) else None,
        "auc": roc_auc(labels, probabilities, positive_class=positive_class),
        "macro_f1": float(np.mean([per_class[name]["f1"] for name in present])) if present else None,
        "balanced_accuracy": float(np.mean([per_class[name]["recall"] for name in present])) if present else None,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def bootstrap_intervals(
    labels,
    probabilities,
    classes,
    *,
    threshold=None,
    positive_class=None,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Percentile 95% intervals for accuracy, AUC, macro F1 and balanced accuracy (resampling images)."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    rng = np.random.default_rng(seed)
    collected: dict[str, list[float]] = {"accuracy": [], "auc": [], "macro_f1": [], "balanced_accuracy": []}
    for _ in range(samples):
        rows = rng.integers(0, len(labels), len(labels))
        metrics = point_metrics(
            labels[rows], probabilities[rows], classes, threshold=threshold, positive_class=positive_class
        )
        for key in collected:
            if metrics[key] is not None:
                collected[key].append(metrics[key])
    return {
        key: [round(float(np.percentile(values, 2.5)), 4), round(float(np.percentile(values, 97.5)), 4)]
        for key, values in collected.items()
        if values
    }


def evaluate(
    labels, probabilities, classes, *, threshold=None, positive_class=None, bootstrap: bool = True, seed: int = 0
) -> dict:
    metrics = point_metrics(labels, probabilities, classes, threshold=threshold, positive_class=positive_class)
    if bootstrap and len(labels):
        metrics["ci95"] = bootstrap_intervals(
            labels, probabilities, classes, threshold=threshold, positive_class=positive_class, seed=seed
        )
    return metrics


def tune_threshold(labels, probabilities, *, positive_class: int, step: float = 0.05, tolerance: float = 0.01) -> float:
    """The decision threshold chosen on a calibration split: balanced accuracy on a coarse grid,
    and among thresholds within ``tolerance`` of the best, the one nearest 0.5.

    A threshold tuned to the last decimal fits the calibration images, not the next patient; and
    with balanced class weights 0.5 is already the prior-neutral choice, so it is left only when
    the calibration split clearly asks for it."""
    labels = np.asarray(labels)
    scores = {}
    for threshold in np.round(np.arange(step, 1.0, step), 2):
        predicted = decide(probabilities, threshold=float(threshold), positive_class=positive_class)
        scores[float(threshold)] = float(np.mean([(predicted[labels == k] == k).mean() for k in np.unique(labels)]))
    best = max(scores.values())
    near_best = [threshold for threshold, score in scores.items() if score >= best - tolerance]
    return min(near_best, key=lambda threshold: (abs(threshold - 0.5), threshold))
