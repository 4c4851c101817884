"""Model cards: the JSON file beside every model, saying what it was trained on and how well it did.

After Mitchell et al., "Model Cards for Model Reporting" (FAT* 2019): data set, license and
citation, splits, classes, preprocessing, architecture, training details, metrics with
confidence intervals, and library versions so a result can be reproduced.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

MODEL_FILE = "model.keras"
CARD_FILE = "card.json"


def library_versions() -> dict[str, str]:
    import numpy
    import PIL
    import pydicom

    versions = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "pydicom": pydicom.__version__,
    }
    try:
        import keras
        import tensorflow

        versions |= {"tensorflow": tensorflow.__version__, "keras": keras.__version__}
    except ImportError:  # pragma: no cover - TensorFlow is a requirement
        pass
    return versions


def write_card(directory: Path, card: dict) -> Path:
    path = Path(directory) / CARD_FILE
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return path


def read_card(directory_or_file: Path) -> dict:
    path = Path(directory_or_file)
    if path.is_dir():
        path = path / CARD_FILE
    elif path.suffix != ".json":
        path = path.parent / CARD_FILE
    return json.loads(path.read_text())


def find_artifacts(root: Path) -> list[Path]:
    """Every ``<root>/<name>/<version>/`` holding both a model file and its card."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(card.parent for card in root.glob(f"*/*/{CARD_FILE}") if (card.parent / MODEL_FILE).is_file())


def next_version(root: Path, name: str) -> int:
    versions = [int(child.name) for child in (Path(root) / name).glob("*") if child.is_dir() and child.name.isdigit()]
    return max(versions, default=0) + 1
