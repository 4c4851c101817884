import numpy as np
import pytest

from ml_models.evaluation import binary_auc, confusion_matrix, decide, evaluate, point_metrics, roc_auc, tune_threshold

CLASSES = ("normal", "pneumonia")


def test_binary_metrics_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    p1 = np.array([0.1, 0.4, 0.7, 0.8, 0.6, 0.3, 0.9, 0.55])
    probabilities = np.stack([1 - p1, p1], axis=1)
    metrics = point_metrics(labels, probabilities, CLASSES)
    # argmax predicts 0,0,1,1,1,0,1,1 -> TN=2 FP=1 FN=1 TP=4
    assert metrics["confusion_matrix"] == [[2, 1], [1, 4]]
    assert metrics["accuracy"] == pytest.approx(6 / 8)
    assert metrics["per_class"]["pneumonia"] == {
        "precision": pytest.approx(4 / 5),
        "recall": pytest.approx(4 / 5),
        "f1": pytest.approx(0.8),
        "support": 5,
    }
    assert metrics["per_class"]["normal"]["precision"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["normal"]["f1"] == pytest.approx(2 / 3)
    assert metrics["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    # AUC: of the 15 (positive, negative) pairs, the positive scores higher in 11
    # (0.3 beats only 0.1; 0.55 and 0.6 beat 0.1 and 0.4; 0.8 and 0.9 beat all three).
    assert metrics["auc"] == pytest.approx(11 / 15)


def test_auc_counts_ties_as_half():
    assert binary_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert binary_auc(np.array([1, 1, 0]), np.array([0.9, 0.5, 0.5])) == pytest.approx(0.75)
    assert binary_auc(np.array([1, 1]), np.array([0.9, 0.5])) is None


def test_threshold_decides_binary_models():
    probabilities = np.array([[0.7, 0.3], [0.4, 0.6], [0.2, 0.8]])
    assert decide(probabilities).tolist() == [0, 1, 1]
    assert decide(probabilities, threshold=0.7, positive_class=1).tolist() == [0, 0, 1]
    assert decide(probabilities, threshold=0.5, positive_class=0).tolist() == [0, 1, 1]
    metrics = point_metrics(np.array([0, 0, 1]), probabilities, CLASSES, threshold=0.7, positive_class=1)
    assert metrics["accuracy"] == 1.0


def test_multiclass_macro_one_vs_rest_auc():
    labels = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.3, 0.4, 0.3], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]])
    # One-vs-rest: class 0 perfect (1.0); class 1 scores 0.4 vs 0.1, 0.5, 0.2 -> 2/3;
    # class 2: 0.4, 0.6 vs 0.1, 0.3 -> 1.0
    assert roc_auc(labels, probabilities) == pytest.approx((1 + 2 / 3 + 1) / 3)
    metrics = point_metrics(labels, probabilities, ("a", "b", "c"))
    assert metrics["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert metrics["accuracy"] == pytest.approx(0.75)


def test_confusion_matrix_rows_are_truth():
    assert confusion_matrix(np.array([0, 1, 1]), np.array([1, 1, 0]), 2).tolist() == [[0, 1], [1, 1]]


def test_bootstrap_interval_brackets_the_point_estimate():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    p1 = np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1)
    metrics = evaluate(labels, np.stack([1 - p1, p1], axis=1), CLASSES, seed=1)
    for key in ("accuracy", "auc", "macro_f1"):
        low, high = metrics["ci95"][key]
        assert low <= metrics[key] <= high and high - low < 0.25


def test_threshold_tuning_is_coarse_and_balanced():
    labels = np.array([0] * 10 + [1] * 10)
    p1 = np.concatenate([np.linspace(0.5, 0.69, 10), np.linspace(0.72, 0.95, 10)])
    threshold = tune_threshold(labels, np.stack([1 - p1, p1], axis=1), positive_class=1)
    assert threshold == 0.7
    # When several thresholds separate the classes equally well, the one nearest 0.5 wins.
    p1 = np.concatenate([np.full(10, 0.2), np.full(10, 0.9)])
    assert tune_threshold(labels, np.stack([1 - p1, p1], axis=1), positive_class=1) == 0.5
