"""What HealthSync knows about each data set in ``HEALTHSYNC_DATASETS_DIR``: classes, modality,
license, citation, and the default model that serves it.

The default recipes were chosen for the held-out test splits (which are not on this machine)
and for the one-hour budget of ``make models`` on two CPU cores: small inputs, and the basic
CNN where a larger network overfits the small sets or does not fit the hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MEDMNIST_CITATION = (
    "Yang J, Shi R, Wei D, et al. MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D "
    "biomedical image classification. Scientific Data 10, 41 (2023)."
)
KERMANY_CITATION = (
    "Kermany DS, Goldbaum M, Cai W, et al. Identifying Medical Diagnoses and Treatable Diseases by "
    "Image-Based Deep Learning. Cell 172(5):1122-1131 (2018). Mendeley Data doi:10.17632/rscbjbr9sj."
)


@dataclass(frozen=True)
class Recipe:
    """How one default model is trained: architecture, input size and training length."""

    arch: str
    image_size: int
    epochs: int
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 5
    # Early stopping watches val_loss unless told otherwise; it ignores the first min_epochs, while a
    # network trained from scratch still has batch-norm statistics that lag its weights.
    monitor: str = "val_loss"
    min_epochs: int = 0
    active: bool = True  # the dataset's active default (one per dataset)


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    condition: str
    classes: tuple[str, ...]
    modality: str  # a key of ml_models.training.AUGMENTATIONS
    layout: str  # "medmnist" (npz) or "folders" (<root>/<split>/<class>/<image>)
    channels: int  # 1 = grayscale, 3 = RGB, as the models see it
    license: str
    redistributable: bool  # may trained weights be committed with the repository?
    citation: str
    file_name: str = ""  # the npz inside the dataset folder, for the MedMNIST layout
    positive_class: int | None = None  # binary sets: the class whose probability is thresholded
    defaults: tuple[Recipe, ...] = field(default_factory=tuple)
    # What each class means as a finding: the name of a condition of HealthSync's catalogue, or None
    # where the class is no finding (normal, no tumour, grade 0).
    findings: dict[str, str | None] = field(default_factory=dict)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="pneumoniamnist",
            title="PneumoniaMNIST (paediatric chest X-ray, 28 px)",
            condition="pneumonia",
            classes=("normal", "pneumonia"),
            modality="chest_xray",
            layout="medmnist",
            channels=1,
            license="CC BY 4.0",
            redistributable=True,
            citation=f"{MEDMNIST_CITATION} {KERMANY_CITATION}",
            file_name="pneumoniamnist_trainval.npz",
            positive_class=1,
            findings={"normal": None, "pneumonia": "Pneumonia"},
            defaults=(
                Recipe(arch="basic_cnn", image_size=28, epochs=40, patience=8, active=True),
                Recipe(arch="resnet50", image_size=32, epochs=12, patience=4, active=False),
                Recipe(arch="efficientnet", image_size=48, epochs=12, patience=4, active=False),
            ),
        ),
        DatasetInfo(
            name="chest_xray_pneumonia_224",
            title="Chest X-ray pneumonia (Kermany 2018, 224 px JPEG)",
            condition="pneumonia",
            classes=("NORMAL", "PNEUMONIA"),
            modality="chest_xray",
            layout="folders",
            channels=1,
            license="CC BY 4.0",
            redistributable=True,
            citation=KERMANY_CITATION,
            positive_class=1,
            findings={"NORMAL": None, "PNEUMONIA": "Pneumonia"},
            defaults=(Recipe(arch="basic_cnn", image_size=64, epochs=30, patience=6),),
        ),
        DatasetInfo(
            name="breastmnist",
            title="BreastMNIST (breast ultrasound, 28 px)",
            condition="breast tumour",
            classes=("malignant", "normal_or_benign"),
            modality="ultrasound",
            layout="medmnist",
            channels=1,
            license="CC BY 4.0",
            redistributable=True,
            citation=(
                f"{MEDMNIST_CITATION} Al-Dhabyani W, Gomaa M, Khaled H, Fahmy A. Dataset of breast "
                "ultrasound images. Data in Brief 28:104863 (2020)."
            ),
            file_name="breastmnist_trainval.npz",
            positive_class=0,  # malignant: the finding the threshold guards
            findings={"malignant": "Breast cancer", "normal_or_benign": "Benign breast mass"},
            defaults=(Recipe(arch="basic_cnn", image_size=28, epochs=60, batch_size=32, patience=10),),
        ),
        DatasetInfo(
            name="retinamnist",
            title="RetinaMNIST (colour fundus, diabetic retinopathy grade, 28 px)",
            condition="diabetic retinopathy",
            classes=("grade_0", "grade_1", "grade_2", "grade_3", "grade_4"),
            modality="fundus",
            layout="medmnist",
            channels=3,
            license="CC BY 4.0",
            redistributable=True,
            citation=f"{MEDMNIST_CITATION} DeepDRiD: Liu R et al., Patterns 3(6):100512 (2022).",
            file_name="retinamnist_trainval.npz",
            findings={"grade_0": None, **{f"grade_{grade}": "Diabetic retinopathy" for grade in range(1, 5)}},
            defaults=(
                Recipe(arch="basic_cnn", image_size=28, epochs=60, batch_size=32, learning_rate=5e-4, patience=10),
            ),
        ),
        DatasetInfo(
            name="brain_mri_4class",
            title="Brain tumour MRI, 4 classes (Nickparvar, Kaggle)",
            condition="brain tumour",
            classes=("glioma", "meningioma", "notumor", "pituitary"),
            modality="brain_mri",
            layout="folders",
            channels=1,
            license="CC0 1.0 upstream (unconfirmed); figshare part CC BY 4.0",
            redistributable=True,
            citation=(
                "Nickparvar M. Brain Tumor MRI Dataset (Kaggle, 2021), merging Cheng J et al., PLoS ONE "
                "10(10):e0140381 (2015) (figshare, CC BY 4.0), SARTAJ and Br35H."
            ),
            findings={
                "glioma": "Brain tumour: glioma",
                "meningioma": "Brain tumour: meningioma",
                "notumor": None,
                "pituitary": "Brain tumour: pituitary adenoma",
            },
            defaults=(Recipe(arch="basic_cnn", image_size=64, epochs=40, patience=8, monitor="val_accuracy"),),
        ),
        DatasetInfo(
            name="skin_ph2",
            title="PH2 dermoscopy (Mendonca 2013)",
            condition="melanoma",
            classes=("atypical_nevus", "common_nevus", "melanoma"),
            modality="dermoscopy",
            layout="folders",
            channels=3,
            license="PH2: free for research and benchmarking only, with citation; no redistribution",
            redistributable=False,
            citation=(
                "Mendonca T, Ferreira PM, Marques JS, Marcal ARS, Rozeira J. PH2 - A dermoscopic image "
                "database for research and benchmarking. IEEE EMBC 2013:5437-5440."
            ),
            findings={
                "atypical_nevus": "Atypical (dysplastic) naevus",
                "common_nevus": "Common naevus",
                "melanoma": "Melanoma",
            },
            defaults=(Recipe(arch="basic_cnn", image_size=64, epochs=60, batch_size=16, patience=10),),
        ),
        DatasetInfo(
            name="bone_fracture",
            title="Bone fracture X-rays (Kaggle, non-augmented originals)",
            condition="bone fracture",
            classes=("fractured", "not_fractured"),
            modality="msk_xray",
            layout="folders",
            channels=1,
            license="unclear (Kaggle 'Bone Fracture Detection using X-rays'); no redistribution",
            redistributable=False,
            citation="Kaggle: Bone Fracture Detection using X-rays (non-augmented originals).",
            positive_class=0,
            findings={"fractured": "Bone fracture", "not_fractured": None},
            defaults=(Recipe(arch="basic_cnn", image_size=64, epochs=60, batch_size=16, patience=10),),
        ),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def model_name(dataset: str, arch: str) -> str:
    """The registry name of a dataset's model of one architecture: ``pneumoniamnist-basic_cnn``."""
    return f"{dataset}-{arch}"


# The kind of image each data set holds, for the modality recogniser (ml_models.appearance), and
# whether its licence allows shipping what is derived from it (the recogniser is fitted on those
# alone, and measured on all).
APPEARANCE_KINDS: dict[str, tuple[str, bool]] = {
    "pneumoniamnist": ("chest_xray", True),
    "chest_xray_pneumonia_224": ("chest_xray", True),
    "chestxray14": ("chest_xray", True),  # NIH, CC0 mirror
    "chest_covid19": ("chest_xray", False),  # licence unclear
    "breastmnist": ("ultrasound", True),
    "retinamnist": ("fundus", True),
    "brain_mri_4class": ("brain_mri", True),
    "brain_alzheimer": ("brain_mri", False),  # licence unclear
    "knee_oa": ("msk_xray", True),  # CC BY 4.0
    "bone_fracture": ("msk_xray", False),
    "kidney_ct": ("ct", False),
    "blood_cells": ("microscopy", True),  # CC BY 4.0
    "malaria_cells": ("microscopy", True),  # US National Library of Medicine, public
    "lung_colon_histopathology": ("histopathology", True),  # free use stated by the authors
    "skin_ph2": ("dermoscopy", False),  # research only
    "skin_ham10000": ("dermoscopy", False),  # CC BY-NC 4.0
}
