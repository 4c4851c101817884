"""The one preprocessing path shared by training and serving.

Every image, whether a MedMNIST array, a PNG/JPEG file or a DICOM object, becomes an 8-bit
grayscale or RGB picture first (DICOM through its modality LUT and VOI window), and is then
resized and converted by Pillow exactly the same way at training and at serving time. The
result is float32 in 0-255: intensity normalisation lives inside each model (a Rescaling
layer, or EfficientNet's own Rescaling and Normalization), so it can never be applied twice
or forgotten by a caller.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

RESIZE_METHODS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
DICOM_SUFFIXES = {".dcm", ".dicom"}


@dataclass(frozen=True)
class PreprocessingSpec:
    """Recorded in every model card; serving rebuilds it from the card."""

    image_size: int
    channels: int  # 1 grayscale, 3 RGB
    resize: str = "bilinear"  # Pillow resampling; antialiased when shrinking
    pixel_range: str = "0-255"  # what the model receives; normalisation is inside the model

    def to_dict(self) -> dict:
        return asdict(self) | {
            "color": "grayscale (ITU-R 601-2 luma)" if self.channels == 1 else "RGB",
            "dicom": (
                "modality LUT (slope/intercept), then VOI LUT or window centre/width, MONOCHROME1 inverted, "
                "middle frame of multi-frame"
            ),
        }

    @classmethod
    def from_dict(cls, values: dict) -> PreprocessingSpec:
        return cls(
            image_size=int(values["image_size"]),
            channels=int(values["channels"]),
            resize=values.get("resize", "bilinear"),
            pixel_range=values.get("pixel_range", "0-255"),
        )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Any 2-D or H x W x 3 array as 8 bits; arrays outside 0-255 are stretched min-max."""
    if pixels.dtype == np.uint8:
        return pixels
    values = pixels.astype(np.float64)
    if values.min() >= 0 and values.max() <= 255 and np.issubdtype(pixels.dtype, np.integer):
        return values.astype(np.uint8)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def prepare_image(pixels: np.ndarray, spec: PreprocessingSpec) -> np.ndarray:
    """One picture (H x W, H x W x 1, H x W x 3 or x 4) -> float32 [S, S, C] in 0-255."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    picture = Image.fromarray(to_uint8(pixels))
    mode = "L" if spec.channels == 1 else "RGB"
    if picture.mode != mode:
        picture = picture.convert(mode)
    if picture.size != (spec.image_size, spec.image_size):
        picture = picture.resize((spec.image_size, spec.image_size), RESIZE_METHODS[spec.resize])
    array = np.asarray(picture, dtype=np.float32)
    if spec.channels == 1:
        array = array[..., np.newaxis]
    return array


def prepare_batch(pictures, spec: PreprocessingSpec) -> np.ndarray:
    """Many pictures -> float32 [N, S, S, C]."""
    batch = np.empty((len(pictures), *spec.input_shape), dtype=np.float32)
    for index, pixels in enumerate(pictures):
        batch[index] = prepare_image(pixels, spec)
    return batch


def is_dicom(source: bytes | str | Path) -> bool:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix.lower() in DICOM_SUFFIXES:
            return True
        with open(path, "rb") as stream:
            head = stream.read(132)
    else:
        head = source[:132]
    return len(head) >= 132 and head[128:132] == b"DICM"


def read_image(source: bytes | str | Path) -> np.ndarray:
    """A PNG/JPEG/DICOM file (path or bytes) -> uint8 H x W or H x W x 3 pixels."""
    if is_dicom(source):
        return read_dicom(source)
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with Image.open(stream) as picture:
        return picture_pixels(picture)


def picture_pixels(picture: Image.Image) -> np.ndarray:
    """An opened PNG/JPEG -> uint8 H x W or H x W x 3 pixels."""
    if picture.mode not in ("L", "RGB"):
        # 16-bit PNGs, palettes and alpha: flatten to what every model understands.
        if picture.mode in ("I", "I;16", "I;16B", "F"):
            return to_uint8(np.asarray(picture))
        picture = picture.convert("RGB")
    return np.asarray(picture)


# The decoder for each compressed transfer syntax that a permissively licensed plugin other than
# GDCM reads; ``dicom_pixels`` uses it. GDCM answers some malformed JPEG streams by throwing a C++ exception nothing
# catches, which aborts the whole process; it is left only the syntaxes nothing else decodes.
DECODING_PLUGIN = {
    "1.2.840.10008.1.2.4.50": "pillow",  # JPEG Baseline (Process 1)
    "1.2.840.10008.1.2.4.90": "pylibjpeg",  # JPEG 2000 Lossless (openjpeg)
    "1.2.840.10008.1.2.4.91": "pylibjpeg",  # JPEG 2000
    "1.2.840.10008.1.2.5": "pylibjpeg",  # RLE Lossless (pylibjpeg-rle)
}


def only_gdcm_decodes(dataset) -> bool:
    """Whether the dataset's pixels are compressed in a syntax only GDCM decodes here."""
    from pydicom.uid import UID

    syntax = UID(str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "") or ""))
    return syntax.is_transfer_syntax and syntax.is_encapsulated and str(syntax) not in DECODING_PLUGIN


def read_dicom(source: bytes | str | Path) -> np.ndarray:
    import pydicom

    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    dataset = pydicom.dcmread(stream)
    return dicom_pixels(dataset)


def dicom_pixels(dataset) -> np.ndarray:
    """A pydicom dataset -> uint8 display pixels, as a radiologist's viewer would show them."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    plugin = DECODING_PLUGIN.get(str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "") or ""))
    if plugin:
        dataset.pixel_array_options(decoding_plugin=plugin)
    pixels = dataset.pixel_array
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    samples = int(getattr(dataset, "SamplesPerPixel", 1) or 1)
    if frames > 1:
        # The middle frame is the most likely to show the anatomy of interest in a series.
        pixels = pixels[frames // 2]
    if samples == 3:
        # pydicom converts YCbCr to RGB on decoding; colour images carry no VOI window.
        return to_uint8(pixels)

    values = apply_modality_lut(pixels, dataset).astype(np.float64)
    if "VOILUTSequence" in dataset:
        values = to_uint8(apply_voi_lut(values, dataset).astype(np.float64))
    elif "WindowCenter" in dataset and "WindowWidth" in dataset:
        values = window(values, _first(dataset.WindowCenter), _first(dataset.WindowWidth))
    else:
        values = to_uint8(values)
    if getattr(dataset, "PhotometricInterpretation", "") == "MONOCHROME1":
        values = 255 - values  # MONOCHROME1: the lowest value is white
    return values.astype(np.uint8)


def window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Linear VOI windowing to 0-255 (DICOM PS3.3 C.11.2.1.2.1)."""
    center, width = float(center), max(float(width), 2.0)  # width 1 is a step; avoid dividing by zero
    low = center - 0.5 - (width - 1) / 2
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    scaled = np.where(values <= low, 0.0, scaled)
    scaled = np.where(values > center - 0.5 + (width - 1) / 2, 255.0, scaled)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def _first(value):
    try:
        return float(value[0])
    except TypeError:
        return float(value)
