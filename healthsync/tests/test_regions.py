"""One managed list of regions (issue #23 item 8): the migration makes it from the free text hospitals and donors
had, merging spellings that differ in case and spacing; the API names a region by its code or name, any case,
and refuses an unknown one with 400 in the one error shape; platform administrators manage the list."""

from collections import Counter

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from conftest import PASSWORD, make_region
from healthsync import regions, services
from healthsync.models import Hospital, Region

BEFORE = [("healthsync", "0002_hospital_name_unique_ci"), ("donors", "0002_deferral_lifted")]


def test_spellings_merge_case_and_spacing_aside_and_codes_are_made_from_names():
    names = regions.merged_names(
        Counter({" north": 1, "North ": 2, "NORTH": 1, "south": 1, "SOUTH": 1, "South": 1, "   ": 4})
    )
    assert names == {"north": "North", "south": "South"}
    assert regions.code_for("Île-de-France") == "ILE-DE-FRANCE"
    assert regions.code_for("North", taken={"NORTH", "NORTH-2"}) == "NORTH-3"
    assert regions.code_for("ناصر") == "REGION" and len(regions.code_for("A very long region name indeed")) <= 20


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_one_region_per_spelling_and_links_every_row():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        OldHospital, OldUser, OldDonor = (
            old.get_model(*name)
            for name in (("healthsync", "Hospital"), ("healthsync", "User"), ("donors", "DonorProfile"))
        )
        texts = {"H0001": "North", "H0002": "  north ", "H0003": "NORTH", "H0004": "Île-de-France", "H0005": ""}
        for fin, text in texts.items():
            OldHospital.objects.create(name=f"Hospital {fin}", fin=fin, region=text)
        for number, text in enumerate(["North", "north", "île-de-france", "  Île-de-France", "South", ""]):
            user = OldUser.objects.create(email=f"donor{number}@old.example", is_donor=True)
            OldDonor.objects.create(
                user=user, blood_group="O+", date_of_birth="1980-01-01", region=text, contact_number="+44 7700 900001"
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    from donors.models import DonorProfile, phone_search_key

    assert sorted(Region.objects.values_list("code", "name")) == [
        ("ILE-DE-FRANCE", "Île-de-France"),
        ("NORTH", "North"),
        ("SOUTH", "South"),
    ]
    north = Region.objects.get(code="NORTH")
    linked = dict(Hospital.objects.values_list("fin", "region__name"))
    assert linked == {"H0001": "North", "H0002": "North", "H0003": "North", "H0004": "Île-de-France", "H0005": None}
    donors = dict(DonorProfile.objects.values_list("user__email", "region__name"))
    assert donors == {
        "donor0@old.example": "North",
        "donor1@old.example": "North",
        "donor2@old.example": "Île-de-France",
        "donor3@old.example": "Île-de-France",
        "donor4@old.example": "South",
        "donor5@old.example": None,
    }
    assert set(DonorProfile.objects.values_list("phone_key", flat=True)) == {phone_search_key("07700 900001")}
    assert north.hospitals.count() == 3 and north.donors.count() == 2


def test_the_api_takes_a_code_or_a_name_in_any_case_and_answers_the_name(api, root, hospital_a):
    client = api(root)
    make_region("South")
    created = client.post("/api/hospitals/", {"name": "Gamma", "region": "  sOuTh "}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["region"] == "South" and Hospital.objects.get(name="Gamma").region.code == "SOUTH"
    moved = client.patch(f"/api/hospitals/{hospital_a.pk}/", {"region": "south"}, format="json")
    assert moved.status_code == 200 and moved.json()["region"] == "South"
    listed = client.get("/api/hospitals/", {"region": "SOUTH"}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert sorted(row["name"] for row in rows) == ["Alpha General", "Gamma"]
    cleared = client.patch(f"/api/hospitals/{hospital_a.pk}/", {"region": ""}, format="json")
    assert cleared.status_code == 200 and cleared.json()["region"] == ""


@pytest.mark.parametrize(
    "path, payload",
    [
        (
            "/api/blood-bank/hospital/register",
            {"name": "Nowhere Clinic", "email": "admin@nowhere.example", "password": "a-long-enough-passphrase"},
        ),
        (
            "/api/blood-bank/donor/register",
            {
                "name": "Nia",
                "email": "nia@donor.example",
                "password": PASSWORD,
                "blood_type": "O+",
                "date_of_birth": "1990-01-01",
                "address": "",
                "contact_number": "",
            },
        ),
    ],
)
def test_an_unknown_region_is_a_400_in_the_one_error_shape_and_writes_nothing(db, path, payload):
    make_region("North")
    before = (Hospital.objects.count(), Region.objects.count())
    refused = APIClient().post(path, {**payload, "region": "Atlantis"}, format="json")
    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert (
        set(error) == {"code", "message", "fields", "details"}
        and "Unknown region 'Atlantis'" in error["fields"]["region"][0]
    )
    assert (Hospital.objects.count(), Region.objects.count()) == before
    assert APIClient().post(path, {**payload, "region": "north"}, format="json").json()["region"] == "North"


def test_a_hospital_registered_without_a_region_answers_an_empty_string(db):
    answer = APIClient().post(
        "/api/blood-bank/hospital/register",
        {"name": "Legacy Clinic", "email": "admin@legacy.example", "password": "a-long-enough-passphrase"},
        format="json",
    )
    assert answer.status_code == 201 and answer.json()["region"] == ""
    assert Hospital.objects.get(name="Legacy Clinic").region is None


def test_platform_administrators_manage_the_list_and_staff_read_it(client, root, bob, hospital_a):
    client.force_login(root)
    added = client.post("/admin/healthsync/region/add/", {"name": "  West   Country ", "code": "west"})
    assert added.status_code == 302 and Region.objects.filter(code="WEST", name="West Country").exists()
    twin = client.post("/admin/healthsync/region/add/", {"name": "west country", "code": "WC"})
    assert twin.status_code == 200 and b"A region with this name already exists." in twin.content
    in_use = client.post(f"/admin/healthsync/region/{hospital_a.region_id}/delete/", {"post": "yes"})
    assert (
        in_use.status_code == 200 and Region.objects.filter(pk=hospital_a.region_id).exists()
    )  # protected: Alpha is in it
    client.force_login(bob)
    assert client.get("/admin/healthsync/region/").status_code == 200
    assert client.get("/admin/healthsync/region/add/").status_code == 403


def test_hospital_form_in_the_console_offers_the_managed_regions(client, root, hospital_a):
    make_region("South")
    client.force_login(root)
    page = client.get(f"/admin/healthsync/hospital/{hospital_a.pk}/change/").content.decode()
    assert '<option value="NORTH" selected>North</option>' in page and '<option value="SOUTH">South</option>' in page
    assert services.hospital_create(name="Delta", region=" south").region.code == "SOUTH"
