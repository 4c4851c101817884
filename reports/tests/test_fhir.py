"""FHIR R4B export: every produced resource validates with fhir.resources' R4B models."""

import pytest
from fhir.resources.R4B.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest

from bloodbank import services as bloodbank

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(hospital_a, hospital_b, bob):
    units = [
        bloodbank.unit_create(hospital=hospital_a, component=component, blood_group="O-", by=bob, status="available")
        for component in ("red_cells", "platelets", "plasma", "cryoprecipitate", "whole_blood")
    ]
    bloodbank.unit_create(hospital=hospital_b, component="red_cells", blood_group="A+", by=None, status="available")
    request = bloodbank.request_create(
        hospital=hospital_a, blood_group="O-", units=2, urgency=5, by=bob, patient_reference="MRN-77"
    )
    bloodbank.request_fulfil(request=request, by=bob)
    bloodbank.request_create(hospital=hospital_a, blood_group="B+", units=1, urgency=2, by=bob)
    return units, request


def test_blood_units_as_biologically_derived_products(api, bob, records):
    response = api(bob).get("/fhir/BiologicallyDerivedProduct")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "searchset" and bundle.total == 5
    for entry in response.json()["entry"]:
        product = BiologicallyDerivedProduct.model_validate(entry["resource"])
        assert product.identifier[0].system == "https://www.isbt128.org/uri/DonationIdentificationNumber"
    unit = records[0][0]
    single = api(bob).get(f"/fhir/BiologicallyDerivedProduct/{unit.pk}").json()
    BiologicallyDerivedProduct.model_validate(single)
    assert single["identifier"][0]["value"] == unit.din
    assert {"url": "https://healthsync.example/fhir/StructureDefinition/blood-group", "valueString": "O-"} in single[
        "extension"
    ]


def test_blood_requests_as_service_requests(api, bob, records):
    body = api(bob).get("/fhir/ServiceRequest").json()
    Bundle.model_validate(body)
    resources = [ServiceRequest.model_validate(entry["resource"]) for entry in body["entry"]]
    emergency = next(r for r in resources if r.priority == "stat")
    assert emergency.status == "active" and emergency.subject.identifier.value == "MRN-77"


def test_paging_and_scoping(api, bob, carol, records):
    first = api(bob).get("/fhir/BiologicallyDerivedProduct", {"_count": 2}).json()
    assert len(first["entry"]) == 2 and any(link["relation"] == "next" for link in first["link"])
    Bundle.model_validate(first)
    theirs = records[0][0].pk
    assert api(carol).get(f"/fhir/BiologicallyDerivedProduct/{theirs}").status_code == 404
    assert api(carol).get("/fhir/BiologicallyDerivedProduct").json()["total"] == 1
    assert api(bob).get("/fhir/Patient").status_code == 404


def test_image_analyses_as_diagnostic_reports_with_an_observation_per_prediction(api, bob, hospital_a):
    import uuid

    from fhir.resources.R4B.diagnosticreport import DiagnosticReport
    from fhir.resources.R4B.observation import Observation

    from imaging.models import ImageAnalysis, MLModel

    model = MLModel.objects.get(name="pneumoniamnist-basic_cnn", version=1)
    done = ImageAnalysis.objects.create(
        hospital=hospital_a,
        requested_by=bob,
        batch=uuid.uuid4(),
        dataset="pneumoniamnist",
        model=model,
        image="x.png",
        image_kind="png",
        status="done",
        predicted_class="pneumonia",
        predictions=[{"class": "pneumonia", "probability": 0.83}, {"class": "normal", "probability": 0.17}],
        confirmation="agrees",
    )
    ImageAnalysis.objects.create(
        hospital=hospital_a,
        requested_by=bob,
        batch=uuid.uuid4(),
        dataset="pneumoniamnist",
        model=model,
        image="y.png",
        image_kind="png",
    )
    body = api(bob).get("/fhir/DiagnosticReport").json()
    Bundle.model_validate(body)
    assert body["total"] == 2
    report = api(bob).get(f"/fhir/DiagnosticReport/{done.pk}").json()
    validated = DiagnosticReport.model_validate(report)
    assert validated.status == "final" and len(validated.result) == 2
    for contained in report["contained"]:
        Observation.model_validate(contained)
    assert report["contained"][0]["valueQuantity"]["value"] == 0.83
