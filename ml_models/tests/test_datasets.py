import numpy as np
import pytest

from ml_models.datasets import (
    available_splits,
    carve,
    layout_of,
    load_image_folders,
    load_medmnist,
    load_split,
    patient_of,
)
from ml_models.preprocessing import PreprocessingSpec

from .conftest import write_medmnist

SPEC = PreprocessingSpec(image_size=32, channels=1)


def test_medmnist_any_subset_of_splits(tmp_path):
    path = write_medmnist(tmp_path / "only_train_test.npz", splits=("train", "test"), n=10)
    assert layout_of(path) == "medmnist"
    assert available_splits(path) == ["train", "test"]
    images = load_medmnist(path, "test", SPEC, classes=("a", "b"))
    assert images.images.shape == (10, 32, 32, 1)
    assert images.images.dtype == np.float32
    assert images.labels.tolist() == [0, 1] * 5
    assert images.classes == ("a", "b")
    with pytest.raises(KeyError):
        load_medmnist(path, "val", SPEC)


def test_medmnist_folder_and_rgb(tmp_path):
    write_medmnist(tmp_path / "colour.npz", rgb=True, n=6)
    images = load_split(tmp_path, "validation", PreprocessingSpec(image_size=28, channels=3))
    assert images.images.shape == (6, 28, 28, 3)
    assert images.classes == ("0", "1")


def test_image_folders_read_png_jpeg_and_dicom(image_folders):
    assert layout_of(image_folders) == "folders"
    assert available_splits(image_folders) == ["train", "test"]
    images = load_image_folders(image_folders, "train", SPEC)
    assert images.classes == ("cat", "dog")
    assert images.images.shape == (9, 32, 32, 1)  # 4 cats, 4 dogs + the DICOM; the .txt is skipped
    assert images.class_counts() == {"cat": 4, "dog": 5}
    assert images.images.max() <= 255 and images.images.min() >= 0
    assert "person0" in images.patients.tolist()


def test_image_folders_in_a_models_class_order(image_folders):
    images = load_image_folders(image_folders, "test", SPEC, classes=("dog", "cat", "bird"))
    assert images.class_counts() == {"dog": 4, "cat": 4, "bird": 0}
    with pytest.raises(ValueError, match="does not know"):
        load_image_folders(image_folders, "test", SPEC, classes=("dog",))


def test_patient_ids_from_kermany_file_names():
    assert patient_of("person1003_bacteria_2934.jpeg") == "person1003"
    assert patient_of("person1003_virus_1685.jpeg") == "person1003"
    assert patient_of("IM-0115-0001.jpeg") == "im-0115"
    assert patient_of("NORMAL2-IM-0383-0001.jpeg") == "normal2-im-0383"
    assert patient_of("Tr-glTr_0000.jpg") is None


def test_carve_keeps_each_patient_on_one_side_and_stratifies():
    labels = np.array([0] * 40 + [1] * 60)
    patients = np.array([f"p{i // 2}" for i in range(100)])  # two images per patient
    kept, carved = carve(labels, 0.2, seed=3, groups=patients)
    assert set(kept).isdisjoint(carved) and len(kept) + len(carved) == 100
    assert set(patients[kept]).isdisjoint(set(patients[carved]))
    assert 6 <= (labels[carved] == 0).sum() <= 10 and 10 <= (labels[carved] == 1).sum() <= 14
    again = carve(labels, 0.2, seed=3, groups=patients)
    assert np.array_equal(again[1], carved)  # fixed seed, same split
