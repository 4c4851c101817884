import io

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from ml_models.datasets import load_image_folders, load_medmnist
from ml_models.preprocessing import PreprocessingSpec, dicom_pixels, prepare_image, read_image, window

from .conftest import write_medmnist


def serving_prepare(spec, pictures):
    from ml_models.predictor import Predictor

    predictor = Predictor.__new__(Predictor)  # no model needed: only its preprocessing is under test
    predictor.spec = spec
    return predictor.prepare(pictures)


def test_training_and_serving_preprocess_files_identically(image_folders):
    spec = PreprocessingSpec(image_size=24, channels=3)
    training = load_image_folders(image_folders, "train", spec)
    from_paths = serving_prepare(spec, training.paths)
    from_bytes = serving_prepare(spec, [open(path, "rb").read() for path in training.paths])
    np.testing.assert_array_equal(training.images, from_paths)
    np.testing.assert_array_equal(training.images, from_bytes)


def test_training_and_serving_preprocess_medmnist_arrays_identically(tmp_path):
    path = write_medmnist(tmp_path / "t.npz", n=4)
    spec = PreprocessingSpec(image_size=64, channels=1)
    training = load_medmnist(path, "train", spec)
    raw = np.load(path)["train_images"]
    np.testing.assert_array_equal(training.images, serving_prepare(spec, list(raw)))
    # A PNG of the same pixels, as an uploaded file would arrive, gives the same input.
    buffer = io.BytesIO()
    Image.fromarray(raw[0]).save(buffer, format="PNG")
    np.testing.assert_array_equal(training.images[0], serving_prepare(spec, [buffer.getvalue()])[0])


def test_grayscale_and_rgb_conversion():
    rgb = np.zeros((10, 10, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    gray = prepare_image(rgb, PreprocessingSpec(image_size=10, channels=1))
    assert gray.shape == (10, 10, 1)
    assert gray[0, 0, 0] == pytest.approx(76, abs=1)  # ITU-R 601-2 luma of pure red
    colour = prepare_image(np.full((5, 5), 100, dtype=np.uint8), PreprocessingSpec(image_size=8, channels=3))
    assert colour.shape == (8, 8, 3) and np.all(colour == 100)


def test_dicom_ct_uses_rescale_and_window():
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert float(dataset.RescaleIntercept) == -1024  # stored values -> Hounsfield units
    hounsfield = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
    # CT_small carries no window: the Hounsfield range is stretched to 0-255.
    stretched = dicom_pixels(dataset)
    assert stretched.dtype == np.uint8 and stretched.shape == (128, 128)
    assert stretched.min() == 0 and stretched.max() == 255
    # With a soft-tissue window, values outside it saturate.
    dataset.WindowCenter, dataset.WindowWidth = 40, 400
    windowed = dicom_pixels(dataset)
    np.testing.assert_array_equal(windowed, window(hounsfield, 40, 400))
    assert (windowed == 255).sum() > (stretched == 255).sum()
    assert read_image(get_testdata_file("CT_small.dcm")).shape == (128, 128)


def test_dicom_mr_window_from_the_file():
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    expected = window(dataset.pixel_array.astype(float), dataset.WindowCenter, dataset.WindowWidth)
    np.testing.assert_array_equal(dicom_pixels(dataset), expected)


def test_dicom_rescale_slope_and_intercept_apply_before_the_window():
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.RescaleSlope, dataset.RescaleIntercept = 1, 0
    dataset.WindowCenter, dataset.WindowWidth = 1000, 400
    unscaled = dicom_pixels(dataset)
    dataset.RescaleIntercept = -1000  # every value drops 1000: the same window now shows other tissue
    shifted = dicom_pixels(dataset)
    assert not np.array_equal(unscaled, shifted)
    np.testing.assert_array_equal(shifted, window(dataset.pixel_array - 1000.0, 1000, 400))


def test_window_formula():
    values = np.array([-1000.0, 39.5, 40.0, 1000.0])
    out = window(values, center=40, width=400)
    assert out[0] == 0 and out[-1] == 255
    assert 126 <= out[1] <= 128


def test_dicom_without_window_is_stretched_and_monochrome1_is_inverted():
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    for keyword in ("WindowCenter", "WindowWidth"):
        if keyword in dataset:
            delattr(dataset, keyword)
    normal = dicom_pixels(dataset)
    assert normal.min() == 0 and normal.max() == 255
    dataset.PhotometricInterpretation = "MONOCHROME1"
    np.testing.assert_array_equal(dicom_pixels(dataset), 255 - normal)


def test_dicom_multi_frame_takes_the_middle_frame():
    dataset = pydicom.dcmread(get_testdata_file("SC_rgb_rle_2frame.dcm"))
    assert int(dataset.NumberOfFrames) == 2
    pixels = dicom_pixels(dataset)
    np.testing.assert_array_equal(pixels, dataset.pixel_array[1])
    assert pixels.shape[-1] == 3


def test_dicom_rgb_jpeg_and_bytes_input():
    path = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    from_path = read_image(path)
    assert from_path.ndim == 3 and from_path.shape[-1] == 3
    np.testing.assert_array_equal(read_image(open(path, "rb").read()), from_path)
    gray = prepare_image(from_path, PreprocessingSpec(image_size=16, channels=1))
    assert gray.shape == (16, 16, 1)
