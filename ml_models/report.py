"""Prints the model table of ml_models/README.md from the cards on disk, so the numbers are never typed by hand.

.venv/bin/python -m ml_models.report [MODELS_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from ml_models.cards import MODEL_FILE, find_artifacts, read_card


def _metric(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    if value is None:
        return "-"
    low, high = metrics.get("ci95", {}).get(key, (None, None))
    return f"{value:.3f} ({low:.3f}-{high:.3f})" if low is not None else f"{value:.3f}"


def model_table(root: Path) -> str:
    lines = [
        "| data set | model | architecture | input | epochs | training time | val. n | accuracy (95% CI) | ROC AUC "
        "(95% CI) | macro F1 (95% CI) | decision | file |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for directory in find_artifacts(root):
        card = read_card(directory)
        metrics = card["metrics"]["validation"]
        decision = card.get("decision", {})
        rule = (
            f"p({card['classes'][decision['positive_class']]}) >= {decision['threshold']}"
            if decision.get("rule") == "threshold"
            else "argmax"
        )
        size = (directory / MODEL_FILE).stat().st_size / 1e6
        lines.append(
            f"| {card['dataset']['name']} | {card['name']}:{card['version']} | {card['architecture']['name']} "
            f"| {'x'.join(map(str, card['input_shape']))} | {card['training']['epochs_run']} | "
            f"{card['training']['seconds']:.0f} s "
            f"| {metrics['n']} | {_metric(metrics, 'accuracy')} | {_metric(metrics, 'auc')} | "
            f"{_metric(metrics, 'macro_f1')} | {rule} | {size:.1f} MB |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(model_table(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "artifacts"))
