"""Hospital names identify hospitals (security test, issue #26 item 11): unique whatever the case, and a
verified hospital that renames itself leaves the network until a platform administrator verifies it again."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from rest_framework.test import APIClient

from conftest import PASSWORD
from healthsync import services
from healthsync.errors import Conflict
from healthsync.models import Hospital

pytestmark = pytest.mark.django_db

REGISTER = "/api/blood-bank/hospital/register"


@pytest.mark.parametrize("name", ["ALPHA GENERAL", "alpha general", "  Alpha   General "])
def test_a_hospital_cannot_register_under_another_hospitals_name(hospital_a, name):
    response = APIClient().post(
        REGISTER, {"name": name, "email": "impostor@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "hospital_name_taken" and "name" in response.json()["error"]["fields"]
    assert Hospital.objects.count() == 1


def test_a_hospital_cannot_take_another_hospitals_name(api, alice, hospital_a, hospital_b):
    response = api(alice).patch(f"/api/hospitals/{hospital_a.pk}/", {"name": "beta infirmary"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "hospital_name_taken"
    hospital_a.refresh_from_db()
    assert (hospital_a.name, hospital_a.is_verified) == ("Alpha General", True)


def test_renaming_a_verified_hospital_withdraws_its_verification_until_verified_again(api, alice, root, hospital_a):
    client = api(alice)
    unchanged = client.patch(
        f"/api/hospitals/{hospital_a.pk}/", {"contact_number": "+44 20 0000", "name": "Alpha General"}, format="json"
    )
    assert unchanged.status_code == 200 and unchanged.json()["is_verified"] is True  # the same name: still verified

    renamed = client.patch(f"/api/hospitals/{hospital_a.pk}/", {"name": "Alpha General Hospital"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Alpha General Hospital" and renamed.json()["is_verified"] is False
    assert hospital_a.pk not in {row["id"] for row in APIClient().get("/api/blood-bank/hospitals").json()}

    platform = api(root)
    assert platform.post(f"/api/hospitals/{hospital_a.pk}/verify/").json()["is_verified"] is True
    assert hospital_a.pk in {row["id"] for row in APIClient().get("/api/blood-bank/hospitals").json()}
    # A platform administrator's own renaming keeps the verification: they are who verifies.
    kept = platform.patch(f"/api/hospitals/{hospital_a.pk}/", {"name": "Alpha General Infirmary"}, format="json")
    assert kept.status_code == 200 and kept.json()["is_verified"] is True


def test_renaming_in_the_console_withdraws_the_verification(alice, hospital_a):
    client = Client()
    client.force_login(alice)
    form = {"name": "Alpha Renamed", "address": "", "contact_number": "", "email": "", "region": "North"}
    response = client.post(f"/admin/healthsync/hospital/{hospital_a.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    hospital_a.refresh_from_db()
    assert (hospital_a.name, hospital_a.is_verified) == ("Alpha Renamed", False)


def test_the_console_refuses_another_hospitals_name(alice, hospital_a, hospital_b):
    client = Client()
    client.force_login(alice)
    form = {"name": "BETA INFIRMARY", "address": "", "contact_number": "", "email": "", "region": "North"}
    response = client.post(f"/admin/healthsync/hospital/{hospital_a.pk}/change/", form)
    assert response.status_code == 200 and b"A hospital with this name is already registered." in response.content
    hospital_a.refresh_from_db()
    assert (hospital_a.name, hospital_a.is_verified) == ("Alpha General", True)


@pytest.mark.django_db(transaction=True)
def test_the_migration_stops_naming_hospitals_that_share_a_name():
    executor = MigrationExecutor(connection)
    executor.migrate([("healthsync", "0001_initial")])
    try:
        Old = executor.loader.project_state([("healthsync", "0001_initial")]).apps.get_model("healthsync", "Hospital")
        Old.objects.create(name="Saint Jude", fin="H0001")
        twin = Old.objects.create(name="SAINT JUDE", fin="H0002")
        executor = MigrationExecutor(connection)
        with pytest.raises(RuntimeError) as refused:
            executor.migrate([("healthsync", "0002_hospital_name_unique_ci")])
        assert "'Saint Jude' (id" in str(refused.value) and "'SAINT JUDE' (id" in str(refused.value)
        Old.objects.filter(pk=twin.pk).update(name="Saint Jude North")  # renamed: the migration goes through
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    with pytest.raises(Conflict):  # and the names are unique from then on
        services.hospital_create(name="saint jude")
