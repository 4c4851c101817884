"""Staff act only on their own hospital's objects, through the API and the admin; deny by default."""

import pytest
from django.test import Client

from conftest import PASSWORD, make_user
from healthsync.models import Membership, Role

pytestmark = pytest.mark.django_db


def test_staff_see_only_their_own_hospital(api, bob, hospital_a, hospital_b):
    response = api(bob).get("/api/hospitals/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [row["id"] for row in body["results"]] == [hospital_a.pk]


def test_other_hospital_is_not_found_for_read_and_change(api, bob, alice, hospital_b):
    for client in (api(bob), api(alice)):
        assert client.get(f"/api/hospitals/{hospital_b.pk}/").status_code == 404
        response = client.patch(f"/api/hospitals/{hospital_b.pk}/", {"name": "Taken over"}, format="json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    hospital_b.refresh_from_db()
    assert hospital_b.name == "Beta Infirmary"


def test_medical_staff_cannot_change_their_hospital_but_its_administrator_can(api, alice, bob, hospital_a):
    refused = api(bob).patch(f"/api/hospitals/{hospital_a.pk}/", {"contact_number": "+1 555 0100"}, format="json")
    assert refused.status_code == 403
    allowed = api(alice).patch(f"/api/hospitals/{hospital_a.pk}/", {"contact_number": "+1 555 0100"}, format="json")
    assert allowed.status_code == 200
    assert allowed.json()["contact_number"] == "+1 555 0100"
    assert allowed.json()["fin"] == hospital_a.fin


def test_an_account_without_a_role_sees_nothing(api, dave, hospital_a):
    assert api(dave).get("/api/hospitals/").json()["count"] == 0
    assert api(dave).get(f"/api/hospitals/{hospital_a.pk}/").status_code == 404
    assert api(dave).post("/api/system/worker-check").status_code == 403


def test_platform_administrator_sees_every_hospital(api, root, hospital_a, hospital_b):
    assert api(root).get("/api/hospitals/").json()["count"] == 2


def test_hospital_administrator_manages_roles_at_their_hospital_only(api, alice, bob, dave, hospital_a, hospital_b):
    client = api(alice)
    changed = client.post(
        "/api/memberships/", {"hospital": hospital_a.pk, "email": bob.email, "role": "hospital_admin"}, format="json"
    )
    assert changed.status_code == 200, changed.content

    elsewhere = client.post(
        "/api/memberships/", {"hospital": hospital_b.pk, "email": dave.email, "role": "hospital_admin"}, format="json"
    )
    assert elsewhere.status_code == 404
    assert not Membership.objects.filter(hospital=hospital_b, user=dave).exists()

    invited = client.post(
        "/api/memberships/", {"hospital": hospital_a.pk, "email": dave.email, "role": "medical_staff"}, format="json"
    )
    assert invited.status_code == 202 and not Membership.objects.filter(user=dave).exists()  # dave must accept

    revoked = client.delete(f"/api/memberships/{changed.json()['id']}/")
    assert revoked.status_code == 204
    bob.refresh_from_db()
    assert not bob.is_staff
    assert api(bob).get("/api/hospitals/").json()["count"] == 0


def test_medical_staff_cannot_manage_staff(api, bob, dave, hospital_a):
    response = api(bob).post(
        "/api/memberships/", {"hospital": hospital_a.pk, "email": dave.email, "role": "hospital_admin"}, format="json"
    )
    assert response.status_code == 404
    assert api(bob).get("/api/memberships/").json()["count"] == 0


def _admin_client(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_admin_lists_only_own_hospital_rows(alice, carol, hospital_a, hospital_b):
    make_user("erin@beta.example", hospital=hospital_b, role=Role.MEDICAL_STAFF)
    client = _admin_client(alice)
    page = client.get("/admin/healthsync/hospital/")
    assert page.status_code == 200
    assert hospital_a.name.encode() in page.content
    assert hospital_b.name.encode() not in page.content

    staff = client.get("/admin/healthsync/membership/")
    assert staff.status_code == 200
    assert b"alice@alpha.example" in staff.content
    assert b"erin@beta.example" not in staff.content

    users = client.get("/admin/healthsync/user/")
    assert users.status_code == 200
    assert b"carol@beta.example" not in users.content


def test_admin_refuses_another_hospitals_object(alice, hospital_b):
    client = _admin_client(alice)
    change = client.get(f"/admin/healthsync/hospital/{hospital_b.pk}/change/")
    # The admin redirects to the index with "doesn't exist" for rows outside the queryset.
    assert change.status_code == 302
    posted = client.post(f"/admin/healthsync/hospital/{hospital_b.pk}/change/", {"name": "Taken over"})
    assert posted.status_code == 302
    hospital_b.refresh_from_db()
    assert hospital_b.name == "Beta Infirmary"


def test_admin_index_is_the_operations_console(alice):
    page = _admin_client(alice).get("/admin/")
    assert page.status_code == 200
    assert b"HealthSync operations" in page.content
    assert b"Your hospitals" in page.content


def test_rights_are_the_roles_of_the_memberships(alice, bob, carol, dave, root, hospital_a, hospital_b):
    """One truth: each membership's role gives its permissions (``ROLE_PERMISSIONS``) at its hospital, a
    platform administrator holds every one, in a request or not, and Django's ``has_perm`` agrees."""
    from healthsync import permissions
    from healthsync.models import Hospital

    every = set(Hospital.objects.values_list("pk", flat=True))
    for user in (alice, bob, carol, dave, root):
        roles = dict(Membership.objects.filter(user=user).values_list("hospital_id", "role"))
        for perm in permissions.ALL_HOSPITAL_PERMISSIONS:
            granted = {pk for pk, role in roles.items() if perm in permissions.ROLE_PERMISSIONS[role]}
            expected = every if user.is_superuser else granted
            assert set(permissions.hospitals_for(user, perm).values_list("pk", flat=True)) == expected, (user, perm)
            with permissions.memoised():
                assert set(permissions.hospitals_for(user, perm).values_list("pk", flat=True)) == expected
                assert permissions.can_anywhere(user, perm) == bool(expected)
                for hospital in (hospital_a, hospital_b):
                    held = hospital.pk in expected
                    assert permissions.can(user, perm, hospital) == held == user.has_perm(perm, hospital)
    assert not alice.has_perm(permissions.ACT)  # no hospital, no grant


def test_a_role_change_holds_at_once_within_the_request(alice, bob, hospital_a):
    """A request's remembered answers about a user are forgotten when their role changes, and a
    membership's role is read where it is: nothing to keep in step."""
    from healthsync import permissions, services

    with permissions.memoised():
        assert not permissions.can(bob, permissions.MANAGE_STAFF, hospital_a)
        services.membership_grant(hospital=hospital_a, user=bob, role=Role.HOSPITAL_ADMIN, by=alice)
        assert permissions.can(bob, permissions.MANAGE_STAFF, hospital_a)
        services.membership_revoke(membership=Membership.objects.get(user=bob), by=alice)
        assert not permissions.can_anywhere(bob)
    Membership.objects.create(user=bob, hospital=hospital_a, role=Role.MEDICAL_STAFF)
    assert permissions.can(bob, permissions.ACT, hospital_a)
    assert not permissions.can(bob, permissions.CHANGE, hospital_a)
