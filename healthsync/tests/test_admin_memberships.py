"""Granting staff roles from the console: a hospital administrator gives an existing account a role
at their own hospital; refusals show the form again, nothing written."""

import pytest
from django.test import Client

from conftest import PASSWORD
from healthsync.models import Membership, Role

pytestmark = pytest.mark.django_db

ADD = "/admin/healthsync/membership/add/"


def _console(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_a_hospital_administrator_grants_a_role_to_an_existing_account(alice, dave, hospital_a):
    response = _console(alice).post(ADD, {"email": "DAVE@example.com", "hospital": hospital_a.pk, "role": Role.MEDICAL_STAFF})
    assert response.status_code == 302, response.content.decode()[:3000]
    membership = Membership.objects.get(user=dave)
    assert (membership.hospital, membership.role, membership.granted_by) == (hospital_a, Role.MEDICAL_STAFF, alice)
    dave.refresh_from_db()
    assert dave.is_staff
    assert dave.has_perm("bloodbank.view_bloodunit") or dave.memberships.exists()


def test_a_platform_administrator_grants_a_role_at_any_hospital(root, dave, hospital_b):
    response = _console(root).post(ADD, {"email": dave.email, "hospital": hospital_b.pk, "role": Role.HOSPITAL_ADMIN})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Membership.objects.get(user=dave).hospital == hospital_b


def test_an_unknown_email_shows_the_form_again(alice, hospital_a):
    before = Membership.objects.count()
    response = _console(alice).post(ADD, {"email": "nobody@example.com", "hospital": hospital_a.pk, "role": Role.MEDICAL_STAFF})
    assert response.status_code == 200
    assert "ask the person to register first" in response.content.decode()
    assert Membership.objects.count() == before


def test_only_the_administrators_own_hospitals_are_offered(alice, dave, hospital_a, hospital_b):
    console = _console(alice)
    choices = console.get(ADD).context["adminform"].form.fields["hospital"].queryset
    assert list(choices) == [hospital_a]
    response = console.post(ADD, {"email": dave.email, "hospital": hospital_b.pk, "role": Role.MEDICAL_STAFF})
    assert response.status_code == 200 and "hospital" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=dave).exists()


def test_medical_staff_cannot_grant_roles(bob, dave, hospital_a):
    response = _console(bob).post(ADD, {"email": dave.email, "hospital": hospital_a.pk, "role": Role.HOSPITAL_ADMIN})
    assert response.status_code == 403
    assert not Membership.objects.filter(user=dave).exists()


def test_a_hospital_administrator_changes_a_role(alice, bob, hospital_a):
    membership = Membership.objects.get(user=bob, hospital=hospital_a)
    page = f"/admin/healthsync/membership/{membership.pk}/change/"
    console = _console(alice)
    assert console.get(page).status_code == 200
    response = console.post(page, {"role": Role.HOSPITAL_ADMIN})
    assert response.status_code == 302, response.content.decode()[:3000]
    membership.refresh_from_db()
    assert (membership.role, membership.granted_by, membership.hospital) == (Role.HOSPITAL_ADMIN, alice, hospital_a)
    assert Membership.objects.filter(user=bob).count() == 1
