"""FHIR R4B (4.3) export: read-only, authenticated and scoped like the API.

Blood units are ``BiologicallyDerivedProduct`` (the DIN is an identifier with the ISBT 128
system), blood requests ``ServiceRequest``. What R4B has no field for travels in extensions
defined here (their URLs are listed in ``EXTENSIONS`` and in docs/api.md).
"""

from django.utils import timezone

from bloodbank.models import BloodRequest, BloodUnit, Component, UnitStatus

DIN_SYSTEM = "https://www.isbt128.org/uri/DonationIdentificationNumber"
PRODUCT_CODE_SYSTEM = "https://www.isbt128.org/uri/ProductDescriptionCode"
EXTENSION_BASE = "https://healthsync.example/fhir/StructureDefinition/"
EXTENSIONS = {
    "blood-group": "ABO/RhD group of the unit (valueString: A+, A-, B+, B-, AB+, AB-, O+, O-).",
    "volume": "Volume of the bag (valueQuantity in mL).",
    "unit-status": (
        "HealthSync status of the unit "
        "(valueCode: quarantined, available, reserved, issued, transfused, discarded, expired, in_transit)."
    ),
    "holding-facility": "ISBT 128 facility identification number of the hospital holding the unit (valueString).",
    "recipient-blood-group": "ABO/RhD group of the recipient (valueString).",
    "urgency": "HealthSync urgency 1-5 (valueInteger; 4 urgent, 5 emergency).",
}
CATEGORY = {
    Component.RED_CELLS: "cells",
    Component.PLATELETS: "cells",
    Component.WHOLE_BLOOD: "fluid",
    Component.PLASMA: "fluid",
    Component.CRYOPRECIPITATE: "fluid",
}
REQUEST_STATUS = {
    "pending": "active",
    "partially_fulfilled": "active",
    "fulfilled": "completed",
    "cancelled": "revoked",
}


def _instant(value) -> str:
    return timezone.localtime(value).isoformat()


def _extension(name: str, **value) -> dict:
    return {"url": EXTENSION_BASE + name, **value}


def blood_unit(unit: BloodUnit) -> dict:
    product_code = {"text": unit.get_component_display()}
    if unit.product_code:
        product_code["coding"] = [{"system": PRODUCT_CODE_SYSTEM, "code": unit.product_code}]
    return {
        "resourceType": "BiologicallyDerivedProduct",
        "id": str(unit.pk),
        "identifier": [{"system": DIN_SYSTEM, "value": unit.din}],
        "productCategory": CATEGORY[unit.component],
        "productCode": product_code,
        "status": "available" if unit.status == UnitStatus.AVAILABLE else "unavailable",
        "quantity": 1,
        "collection": {"collectedDateTime": _instant(unit.collected_at)},
        "storage": [
            {"description": "Use before the end of the period", "duration": {"end": _instant(unit.expires_at)}}
        ],
        "extension": [
            _extension("blood-group", valueString=unit.blood_group),
            _extension(
                "volume",
                valueQuantity={
                    "value": unit.volume_ml,
                    "unit": "mL",
                    "system": "http://unitsofmeasure.org",
                    "code": "mL",
                },
            ),
            _extension("unit-status", valueCode=unit.status),
            _extension("holding-facility", valueString=unit.hospital.fin),
        ],
    }


def _priority(urgency: int) -> str:
    return {5: "stat", 4: "urgent"}.get(urgency, "routine")


def blood_request(request: BloodRequest, *, with_patient: bool = False) -> dict:
    """``with_patient``: the reader is the hospital's own staff, who may see the patient reference."""
    subject = {"display": "Patient"}
    if with_patient and request.patient_reference:
        subject = {"identifier": {"value": request.patient_reference}, "display": "Patient"}
    resource = {
        "resourceType": "ServiceRequest",
        "id": str(request.pk),
        "status": REQUEST_STATUS[request.status],
        "intent": "order",
        "priority": _priority(request.urgency),
        "code": {"text": f"{request.get_component_display()} for transfusion, recipient {request.blood_group}"},
        "quantityQuantity": {"value": request.units_requested, "unit": "unit"},
        "subject": subject,
        "authoredOn": _instant(request.created_at),
        "performer": [{"display": request.hospital.name, "identifier": {"value": request.hospital.fin}}],
        "extension": [
            _extension("recipient-blood-group", valueString=request.blood_group),
            _extension("urgency", valueInteger=request.urgency),
        ],
    }
    if request.needed_by:
        resource["occurrenceDateTime"] = _instant(request.needed_by)
    return resource


ANALYSIS_STATUS = {"queued": "registered", "running": "partial", "done": "preliminary", "failed": "cancelled"}
CONDITION_SYSTEM = "https://healthsync.example/fhir/CodeSystem/condition"
EXTENSIONS["model-version"] = (
    "The model and version that produced a DiagnosticReport (valueString, e.g. pneumoniamnist-basic_cnn:1)."
)
EXTENSIONS["clinician-reading"] = "A clinician's reading of the result (valueCode: agrees, disagrees, uncertain)."
EXTENSIONS["analysis-warning"] = (
    "A check the image failed and staff overrode to analyse it anyway (valueString: code: message)."
)
ACCESSION_TYPE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN", "display": "Accession ID"}]
}


def _report_status(analysis) -> str:
    """``preliminary`` until a clinician records a reading, then ``final``, or ``amended`` once a
    recorded reading was changed; queued, running and failed analyses as registered, partial, cancelled."""
    if analysis.status != "done":
        return ANALYSIS_STATUS[analysis.status]
    if analysis.amended_at:
        return "amended"
    return "final" if analysis.confirmation else "preliminary"


def _conclusion_codes(analysis) -> list[dict]:
    """One code per finding: the model's, or the clinician's finding where the reading disagrees."""
    if analysis.confirmation == "disagrees":
        return [{"text": f"{analysis.true_finding} (clinician's finding)"}]
    return [
        {
            "coding": [{"system": CONDITION_SYSTEM, "code": finding["code"], "display": finding["condition"]}],
            "text": finding["condition"],
        }
        for finding in analysis.findings or []
    ]


def image_analysis(analysis, *, with_patient: bool = False) -> dict:
    """An image analysis as a DiagnosticReport with one contained Observation per predicted class.
    ``with_patient``: the reader is the hospital's own staff, who may see the patient reference."""
    model = analysis.model
    observations = [
        {
            "resourceType": "Observation",
            "id": f"prediction-{index}",
            "status": "preliminary" if not analysis.confirmation else "final",
            "code": {"text": f"Probability of {row['class']}"},
            "valueQuantity": {
                "value": row["probability"],
                "unit": "probability",
                "system": "http://unitsofmeasure.org",
                "code": "1",
            },
            "device": {"display": f"{model.name}:{model.version}"},
        }
        for index, row in enumerate(analysis.predictions or [])
    ]
    asked = analysis.requested_condition.name if analysis.requested_condition_id else analysis.dataset
    subject = {"display": "Patient"}
    if with_patient and analysis.patient_reference:
        subject = {"identifier": {"value": analysis.patient_reference}, "display": "Patient"}
    resource = {
        "resourceType": "DiagnosticReport",
        "id": str(analysis.pk),
        "status": _report_status(analysis),
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD", "display": "Radiology"}
                ]
            }
        ],
        "code": {"text": f"{asked}: automated image analysis"},
        "subject": subject,
        "effectiveDateTime": _instant(analysis.submitted_at),
        "performer": [{"display": analysis.hospital.name, "identifier": {"value": analysis.hospital.fin}}],
        "extension": [_extension("model-version", valueString=f"{model.name}:{model.version}")],
    }
    if with_patient and analysis.accession_number:
        resource["identifier"] = [{"type": ACCESSION_TYPE, "value": analysis.accession_number}]
    if analysis.finished_at:
        resource["issued"] = _instant(analysis.finished_at)
    if observations:
        resource["contained"] = observations
        resource["result"] = [{"reference": f"#{observation['id']}"} for observation in observations]
    warnings = [f"{warning['code']}: {warning['message']}" for warning in analysis.warnings or []]
    if analysis.status == "done":
        found = (
            ", ".join(finding["condition"] for finding in analysis.findings or [])
            or f"no finding ({analysis.predicted_class})"
        )
        caution = f" WARNING: {' '.join(warnings)}" if warnings else ""
        resource["conclusion"] = (
            f"{found} ({model.name} version {model.version}); supports, does not replace, a clinician's "
            f"reading.{caution}"
        )
        resource["conclusionCode"] = _conclusion_codes(analysis)
        if not resource["conclusionCode"]:
            del resource["conclusionCode"]
    for warning in warnings:
        resource["extension"].append(_extension("analysis-warning", valueString=warning))
    if analysis.confirmation:
        resource["extension"].append(_extension("clinician-reading", valueCode=analysis.confirmation))
        if analysis.confirmed_by_id:
            resource["resultsInterpreter"] = [{"display": analysis.confirmed_by.name or "Clinician"}]
    return resource


def bundle(
    *, resources: list[dict], total: int, base_url: str, self_url: str, next_url: str | None, previous_url: str | None
) -> dict:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    if previous_url:
        links.append({"relation": "previous", "url": previous_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }
