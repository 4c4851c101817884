"""Out-of-range dates, numbers and deeply nested JSON bodies: a 400 in the error shape, never a 5xx.

Security test, issue #26, item 8. Query parameters that are numbers or dates go through
``healthsync.params`` (bounded, ASCII digits only); JSON bodies go through
``healthsync.api.parsers.JSONParser`` (nesting limit). The focused tests name the routes the
finding named; the walk sends the same values to every operation of the OpenAPI schema (every query
parameter it declares, and every one the code reads), and a nested body to every write, as a
platform administrator, a hospital administrator and a donor.
"""

import re
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from conftest import PASSWORD
from healthsync.api.parsers import MAX_DEPTH, nesting_depth
from healthsync.params import EARLIEST_DATE, LATEST_DATE

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ("blood-utilisation", "donors", "requests", "diagnostics")
# Numbers past int64, timedelta and date arithmetic, and int()'s limit on digits; a superscript digit
# (str.isdigit() says yes, int() says no); a sign; the calendar's first and last days.
HOSTILE_VALUES = ("9" * 40, "99999999999", "3000000", "9" * 5000, "²", "-1", "0001-01-01", "9999-12-31")
NESTED = "[" * 100_000 + "]" * 100_000


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _assert_refused(response, field=None):
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields", "details"}
    if field:
        assert field in error["fields"], error


@pytest.fixture
def donor(db):
    from donors.services import donor_register

    return donor_register(
        name="Hostile Donor",
        email="hostile@donor.example",
        password=PASSWORD,
        blood_group="O+",
        date_of_birth=date(1990, 1, 1),
        address="1 Test Street",
        contact_number="+44 7700 900000",
        sex="female",
        weight_kg=70,
    ).user


# --- reports: periods near year 1 and year 9999 ----------------------------------------------------


@pytest.mark.parametrize(
    "query, field",
    [
        ("start=0001-01-01&end=0001-01-02", "end"),
        ("start=9999-12-20&end=9999-12-31", "end"),
        ("end=0001-01-01", "end"),
        ("start=0001-01-01&end=9999-12-31", "end"),
        ("start=1899-12-31&end=1900-01-02", "start"),
    ],
)
@pytest.mark.parametrize("kind", ["json", "csv", "pdf"])
def test_report_periods_outside_the_calendar_it_computes_with_are_a_400(alice, query, field, kind):
    client = _client(alice)
    for name in REPORTS:
        _assert_refused(client.get(f"/api/reports/{name}?{query}&format={kind}"), field)


def test_report_periods_at_the_edges_of_the_bounds_are_served_in_every_format(alice):
    client = _client(alice)
    for query in (f"start={EARLIEST_DATE}&end=1900-03-31", f"start=2999-10-01&end={LATEST_DATE}"):
        for name in REPORTS:
            for kind in ("json", "csv", "pdf"):
                response = client.get(f"/api/reports/{name}?{query}&format={kind}")
                assert response.status_code == 200, (name, query, kind, response.content[:300])


def test_an_empty_period_gives_a_pdf_with_an_empty_chart(alice):
    for name in ("blood-utilisation", "diagnostics"):
        response = _client(alice).get(f"/api/reports/{name}?start=2020-01-01&end=2020-01-31&format=pdf")
        assert response.status_code == 200, response.content[:300]
        assert response.content.startswith(b"%PDF")


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["9" * 40, "1000000000", "3000000", "9" * 5000, "²"])
def test_expiring_within_is_a_bounded_whole_number(alice, value):
    _assert_refused(_client(alice).get("/api/blood-bank/units/", {"expiring_within": value}), "expiring_within")


def test_expiring_within_is_served_up_to_its_bound(alice):
    client = _client(alice)
    assert client.get("/api/blood-bank/units/", {"expiring_within": "3660"}).status_code == 200
    _assert_refused(client.get("/api/blood-bank/units/", {"expiring_within": "3661"}), "expiring_within")


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/reports/donors?hospital=²", "hospital"),
        ("/fhir/BiologicallyDerivedProduct?_count=²", "_count"),
        ("/fhir/BiologicallyDerivedProduct?page=²", "page"),
        ("/api/notifications?after=²", "after"),
        ("/api/blood-bank/staff/appointments/?slot=²", "slot"),
    ],
)
def test_numbers_that_only_look_like_digits_are_a_400(alice, url, field):
    _assert_refused(_client(alice).get(url, HTTP_ACCEPT="application/json"), field)


def test_numbers_of_any_length_are_clamped_where_that_reads_naturally(alice):
    client = _client(alice)
    huge = "9" * 5000  # past int()'s limit on digits
    assert client.get(f"/api/notifications?after={huge}").status_code == 200
    bundle = client.get(f"/fhir/BiologicallyDerivedProduct?_count={huge}&page={huge}", HTTP_ACCEPT="application/json")
    assert bundle.status_code == 200, bundle.content[:300]


# --- nested JSON bodies -------------------------------------------------------------------------------


def test_nesting_depth_skips_brackets_inside_strings():
    assert nesting_depth('{"a": "[[[[[[[[", "b": [{"c": "\\"]]]"}]}', 10) == 3
    assert nesting_depth("[" * 1000, 5) == 6  # stops counting past the limit


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register", "/api/blood-bank/donor/register"])
def test_deeply_nested_bodies_are_a_400_before_any_login(path):
    response = APIClient().post(path, NESTED, content_type="application/json")
    _assert_refused(response)
    assert response.json()["error"]["code"] == "parse_error"


def test_bodies_nested_past_the_limit_are_a_400_and_within_it_are_read(alice, dave, hospital_a):
    client = _client(alice)

    def grant(depth):
        nested = "[" * (depth - 1) + "]" * (depth - 1)  # one level less: the body's own object
        body = f'{{"hospital": {hospital_a.pk}, "email": "{dave.email}", "role": "medical_staff", "x": {nested}}}'
        return client.post("/api/memberships/", body, content_type="application/json")

    refused = grant(MAX_DEPTH + 1)
    _assert_refused(refused)
    assert refused.json()["error"]["code"] == "parse_error" and "levels" in refused.json()["error"]["message"]
    assert grant(MAX_DEPTH).status_code == 202  # read, and the invitation sent


# --- the walk: every operation of the schema --------------------------------------------------------


def _parameters_the_code_reads() -> set[str]:
    """Query parameter names read anywhere in the apps (``params.get("x")``, ``query_params["x"]``...)."""
    pattern = re.compile(r'(?:query_params|params|GET)(?:\.get\(|\[)\s*"(\w+)"|whole_number\([^,()]+,\s*"(\w+)"')
    names = set()
    for app in ("healthsync", "bloodbank", "donors", "imaging", "notifications", "reports"):
        for source in (ROOT / app).rglob("*.py"):
            if "tests" in source.parts or "migrations" in source.parts:
                continue
            for match in pattern.finditer(source.read_text()):
                names.add(match.group(1) or match.group(2))
    return names


PATH_VALUES = {
    "resource_type": ["BiologicallyDerivedProduct", "ServiceRequest", "DiagnosticReport"],
    "name": list(REPORTS),
    "step": ["check-in"],
    "reference": ["pneumonia"],
}


def _paths(template: str) -> list[str]:
    paths = [template]
    for name in re.findall(r"{(\w+)}", template):
        paths = [path.replace(f"{{{name}}}", value) for path in paths for value in PATH_VALUES.get(name, ["1"])]
    return paths


def test_no_operation_answers_5xx_to_out_of_range_values_or_nested_bodies(root, alice, donor):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    read_anywhere = _parameters_the_code_reads()
    assert {"start", "end", "expiring_within", "after", "slot", "_count"} <= read_anywhere
    failures, answered, operations = [], 0, 0
    for user in (root, alice, donor):
        client = _client(user)
        for template, methods in schema["paths"].items():
            for method, operation in methods.items():
                if (method, template) == ("post", "/api/predict"):
                    continue  # multipart uploads: imaging/tests/test_hostile_uploads.py
                operations += 1
                declared = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
                for path in _paths(template):
                    if method == "get":
                        requests = [
                            urlencode({name: value for name in {*declared, *read_anywhere}}) for value in HOSTILE_VALUES
                        ]
                        requests += [urlencode({name: value}) for name in declared for value in HOSTILE_VALUES]
                        for query in requests:
                            response = client.get(f"{path}?{query}", HTTP_ACCEPT="application/json")
                            answered += 1
                            if response.status_code >= 500:
                                failures.append(f"{user.email} GET {path}?{query[:120]}: {response.status_code}")
                    elif method in ("post", "put", "patch"):
                        response = getattr(client, method)(path, NESTED, content_type="application/json")
                        answered += 1
                        if response.status_code >= 500:
                            failures.append(
                                f"{user.email} {method.upper()} {path} (nested body): {response.status_code}"
                            )
    assert operations > 150 and answered > 1000, (operations, answered)
    assert not failures, "\n".join(failures[:40])
