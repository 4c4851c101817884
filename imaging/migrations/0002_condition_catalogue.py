"""Seeds the condition catalogue and the data sets HealthSync trains on.

Data sets mirror ml_models.catalogue (copied, not imported: a migration must not change when
that module does). Conditions span specialties and modalities; those no local data set covers
show "no model yet" until one is trained.
"""

from django.db import migrations

DATASETS = [
    ("pneumoniamnist", "PneumoniaMNIST (paediatric chest X-ray, 28 px)", "chest X-ray", "CC BY 4.0", True,
     "Yang et al., Scientific Data 2023 (MedMNIST v2); Kermany et al., Cell 2018."),
    ("chest_xray_pneumonia_224", "Chest X-ray pneumonia (Kermany 2018, 224 px JPEG)", "chest X-ray", "CC BY 4.0", True,
     "Kermany et al., Cell 2018; Mendeley Data doi:10.17632/rscbjbr9sj."),
    ("breastmnist", "BreastMNIST (breast ultrasound, 28 px)", "ultrasound", "CC BY 4.0", True,
     "Yang et al., Scientific Data 2023 (MedMNIST v2); Al-Dhabyani et al., Data in Brief 2020."),
    ("retinamnist", "RetinaMNIST (colour fundus, 28 px)", "colour fundus photograph", "CC BY 4.0", True,
     "Yang et al., Scientific Data 2023 (MedMNIST v2); DeepDRiD."),
    ("brain_mri_4class", "Brain tumour MRI, 4 classes (Nickparvar, Kaggle)", "MRI",
     "CC0 1.0 upstream (unconfirmed); figshare part CC BY 4.0", True,
     "Nickparvar, Brain Tumor MRI Dataset (Kaggle 2021); Cheng et al., PLoS ONE 2015."),
    ("skin_ph2", "PH2 dermoscopy (Mendonca 2013)", "dermoscopy", "research and benchmarking only", False,
     "Mendonca et al., IEEE EMBC 2013."),
    ("bone_fracture", "Bone fracture X-rays (Kaggle)", "musculoskeletal X-ray", "unclear", False,
     "Kaggle: Bone Fracture Detection using X-rays."),
]

# (name, specialty, modalities, covering data sets, description)
CONDITIONS = [
    # Chest
    ("Pneumonia", "Pulmonology", "chest X-ray, CT", ["pneumoniamnist", "chest_xray_pneumonia_224"], "Infection of the lung parenchyma; consolidation on X-ray."),
    ("Tuberculosis", "Pulmonology", "chest X-ray, CT", [], "Mycobacterium tuberculosis infection; upper-lobe cavitation."),
    ("COVID-19 pneumonia", "Pulmonology", "chest X-ray, CT", [], "Ground-glass opacities, often bilateral and peripheral."),
    ("Pneumothorax", "Pulmonology", "chest X-ray, CT, ultrasound", [], "Air in the pleural space."),
    ("Pleural effusion", "Pulmonology", "chest X-ray, ultrasound, CT", [], "Fluid in the pleural space."),
    ("Lung nodule", "Pulmonology", "CT, chest X-ray", [], "Focal opacity up to 3 cm; malignancy risk by size and growth."),
    ("Lung cancer", "Oncology", "CT, PET-CT, histopathology", [], "Primary lung malignancy."),
    ("Emphysema (COPD)", "Pulmonology", "CT, chest X-ray", [], "Destruction of alveolar walls."),
    ("Pulmonary embolism", "Pulmonology", "CT pulmonary angiography", [], "Clot in the pulmonary arteries."),
    ("Interstitial lung disease", "Pulmonology", "high-resolution CT", [], "Fibrosis and inflammation of the lung interstitium."),
    ("Cardiomegaly", "Cardiology", "chest X-ray, echocardiography", [], "Enlarged cardiac silhouette."),
    ("Atelectasis", "Pulmonology", "chest X-ray, CT", [], "Collapse of lung tissue."),
    # Cardiology
    ("Heart failure with reduced ejection fraction", "Cardiology", "echocardiography, cardiac MRI", [], "Ejection fraction 40% or less."),
    ("Coronary artery disease", "Cardiology", "CT coronary angiography", [], "Atherosclerotic narrowing of coronary arteries."),
    ("Aortic stenosis", "Cardiology", "echocardiography", [], "Narrowed aortic valve."),
    ("Aortic aneurysm", "Cardiology", "CT, ultrasound", [], "Dilatation of the aorta."),
    # Neurology
    ("Brain tumour: glioma", "Neurology", "MRI", ["brain_mri_4class"], "Primary glial tumour."),
    ("Brain tumour: meningioma", "Neurology", "MRI", ["brain_mri_4class"], "Tumour of the meninges."),
    ("Brain tumour: pituitary adenoma", "Neurology", "MRI", ["brain_mri_4class"], "Tumour of the pituitary gland."),
    ("Ischaemic stroke", "Neurology", "CT, MRI (diffusion)", [], "Arterial occlusion causing infarction."),
    ("Intracranial haemorrhage", "Neurology", "CT", [], "Bleeding inside the skull."),
    ("Multiple sclerosis", "Neurology", "MRI", [], "Demyelinating white-matter lesions."),
    ("Alzheimer's disease", "Neurology", "MRI, PET", [], "Neurodegeneration with hippocampal atrophy."),
    ("Hydrocephalus", "Neurology", "CT, MRI, ultrasound", [], "Enlarged ventricles."),
    # Oncology, breast
    ("Breast cancer", "Oncology", "mammography, ultrasound, MRI, histopathology", ["breastmnist"], "Malignant breast tumour."),
    ("Benign breast mass", "Oncology", "ultrasound, mammography", ["breastmnist"], "Fibroadenoma, cyst and other benign masses."),
    ("Breast microcalcifications", "Oncology", "mammography", [], "Calcium deposits; clustered forms may be malignant."),
    ("Colorectal cancer", "Oncology", "histopathology, CT colonography", [], "Adenocarcinoma of the colon or rectum."),
    ("Lymph node metastasis", "Oncology", "histopathology", [], "Tumour cells in lymph node sections."),
    ("Prostate cancer", "Oncology", "MRI, histopathology", [], "Malignancy of the prostate."),
    ("Liver tumour", "Oncology", "CT, MRI, ultrasound", [], "Hepatocellular carcinoma or metastases."),
    ("Kidney tumour", "Oncology", "CT, ultrasound", [], "Renal cell carcinoma and other renal masses."),
    ("Thyroid nodule", "Endocrinology", "ultrasound", [], "Nodule graded by TI-RADS."),
    ("Cervical cancer", "Oncology", "cytology, colposcopy", [], "Malignancy of the cervix."),
    # Ophthalmology
    ("Diabetic retinopathy", "Ophthalmology", "colour fundus photograph", ["retinamnist"], "Retinal microvascular damage, graded 0-4."),
    ("Glaucoma", "Ophthalmology", "colour fundus photograph, OCT", [], "Optic neuropathy with cupping."),
    ("Age-related macular degeneration", "Ophthalmology", "OCT, colour fundus photograph", [], "Drusen and neovascularisation."),
    ("Diabetic macular oedema", "Ophthalmology", "OCT", [], "Fluid in the macula."),
    ("Choroidal neovascularisation", "Ophthalmology", "OCT", [], "New vessels under the retina."),
    ("Retinopathy of prematurity", "Ophthalmology", "wide-field fundus imaging", [], "Abnormal retinal vessels in premature infants."),
    # Dermatology
    ("Melanoma", "Dermatology", "dermoscopy, histopathology", ["skin_ph2"], "Malignant melanocytic tumour."),
    ("Atypical (dysplastic) naevus", "Dermatology", "dermoscopy", ["skin_ph2"], "Melanocytic naevus with atypical features."),
    ("Common naevus", "Dermatology", "dermoscopy", ["skin_ph2"], "Benign melanocytic naevus."),
    ("Basal cell carcinoma", "Dermatology", "dermoscopy, histopathology", [], "The most common skin cancer."),
    ("Squamous cell carcinoma of the skin", "Dermatology", "dermoscopy, histopathology", [], "Keratinocyte carcinoma."),
    ("Actinic keratosis", "Dermatology", "dermoscopy", [], "Sun-induced precancerous lesion."),
    # Musculoskeletal
    ("Bone fracture", "Orthopaedics", "musculoskeletal X-ray, CT", ["bone_fracture"], "Break in a bone; wrist and forearm most often here."),
    ("Osteoarthritis of the knee", "Orthopaedics", "musculoskeletal X-ray, MRI", [], "Joint-space narrowing, osteophytes (Kellgren-Lawrence grade)."),
    ("Osteoporosis", "Orthopaedics", "DXA, X-ray", [], "Low bone mineral density."),
    ("Anterior cruciate ligament tear", "Orthopaedics", "MRI", [], "Rupture of the ACL."),
    ("Scoliosis", "Orthopaedics", "spine X-ray", [], "Lateral curvature of the spine (Cobb angle)."),
    ("Developmental dysplasia of the hip", "Orthopaedics", "ultrasound, X-ray", [], "Abnormal hip joint in infants."),
    # Abdomen, obstetrics, urology, haematology
    ("Appendicitis", "General surgery", "ultrasound, CT", [], "Inflamed appendix."),
    ("Kidney stones", "Urology", "CT, ultrasound", [], "Urolithiasis."),
    ("Gallstones", "Gastroenterology", "ultrasound", [], "Cholelithiasis."),
    ("Fatty liver disease", "Gastroenterology", "ultrasound, MRI", [], "Hepatic steatosis."),
    ("Fetal growth restriction", "Obstetrics", "ultrasound", [], "Fetus smaller than expected for gestational age."),
    ("Malaria", "Haematology", "blood smear microscopy", [], "Plasmodium parasites in red cells."),
    ("Leukaemia", "Haematology", "blood smear microscopy, bone marrow histopathology", [], "Malignant white cells."),
    ("Sickle cell disease", "Haematology", "blood smear microscopy", [], "Sickled red cells."),
]


def seed(apps, schema_editor):
    Dataset = apps.get_model("imaging", "Dataset")
    Condition = apps.get_model("imaging", "Condition")
    by_name = {}
    for name, title, modality, license, redistributable, citation in DATASETS:
        by_name[name], _ = Dataset.objects.update_or_create(
            name=name,
            defaults={"title": title, "modality": modality, "license": license, "redistributable_weights": redistributable, "citation": citation},
        )
    for name, specialty, modalities, dataset_names, description in CONDITIONS:
        condition, _ = Condition.objects.update_or_create(
            name=name, defaults={"specialty": specialty, "modalities": modalities, "description": description}
        )
        condition.datasets.set([by_name[dataset] for dataset in dataset_names])


def unseed(apps, schema_editor):
    apps.get_model("imaging", "Condition").objects.filter(name__in=[row[0] for row in CONDITIONS]).delete()
    apps.get_model("imaging", "Dataset").objects.filter(name__in=[row[0] for row in DATASETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("imaging", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
