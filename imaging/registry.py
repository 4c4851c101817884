"""Where models and data sets live on disk: settings with defaults that work in a fresh clone."""

from pathlib import Path

from django.conf import settings


def models_dir() -> Path:
    """``HEALTHSYNC_MODELS_DIR``; by default the artifacts folder inside the ml_models package."""
    default = Path(settings.BASE_DIR) / "ml_models" / "artifacts"
    return Path(getattr(settings, "HEALTHSYNC_MODELS_DIR", None) or default)


def datasets_dir() -> Path:
    """``HEALTHSYNC_DATASETS_DIR``; by default ``../shared/datasets`` beside the repository."""
    default = Path(settings.BASE_DIR).parent / "shared" / "datasets"
    return Path(getattr(settings, "HEALTHSYNC_DATASETS_DIR", None) or default)


def dataset_path(reference: str) -> Path:
    """A data set folder name (``pneumoniamnist``) or a path to a folder or npz file."""
    candidate = Path(reference).expanduser()
    if candidate.exists():
        return candidate
    named = datasets_dir() / reference
    if named.exists():
        return named
    raise FileNotFoundError(f"no data set {reference!r} (neither a path nor a folder of {datasets_dir()})")
