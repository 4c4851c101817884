"""Staff by invitation: a hospital administrator invites an address to a role (console or API); the person
accepts through the emailed link, logged in as that address or by setting a password for a new account.
Nobody is attached to a hospital without accepting, and the answer is the same whether or not the
address has an account."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD, jwt_client
from healthsync.models import Invitation, Membership, Role, User

pytestmark = pytest.mark.django_db

INVITE = "/admin/healthsync/invitation/add/"


def _console(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def _link() -> str:
    assert mail.outbox, "no invitation email was sent"
    return re.search(r"https?://[^/\s]+(/accounts/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)


def test_an_invited_account_joins_only_when_it_accepts(alice, dave, hospital_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _console(alice).post(
            INVITE, {"email": "DAVE@example.com", "hospital": hospital_a.pk, "role": Role.MEDICAL_STAFF}
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not Membership.objects.filter(user=dave).exists()  # nothing until dave says yes
    dave.refresh_from_db()
    assert not dave.is_staff
    assert mail.outbox[-1].to == ["dave@example.com"] and hospital_a.name in mail.outbox[-1].subject
    link = _link()

    visitor = Client()
    assert "Log in as dave@example.com" in visitor.get(link).content.decode()
    assert visitor.post(link).status_code == 302  # to the login page: an account accepts only as itself
    assert not Membership.objects.filter(user=dave).exists()

    someone_else = _console(alice)
    assert someone_else.post(link).status_code == 403  # logged in as another address
    assert not Membership.objects.filter(user=dave).exists()

    accepted = _console(dave).post(link)
    assert accepted.status_code == 200 and "You are now medical staff" in accepted.content.decode()
    membership = Membership.objects.get(user=dave)
    assert (membership.hospital, membership.role, membership.granted_by) == (hospital_a, Role.MEDICAL_STAFF, alice)
    dave.refresh_from_db()
    assert dave.is_staff
    assert Invitation.objects.get().status == "accepted"
    assert _console(dave).get(link).status_code == 410  # used


def test_a_new_address_sets_a_password_and_is_logged_in(alice, hospital_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _console(alice).post(
            INVITE, {"email": "newcomer@example.com", "hospital": hospital_a.pk, "role": Role.MEDICAL_STAFF}
        )
    link = _link()
    browser = Client()
    assert "Set a password" in browser.get(link).content.decode()
    weak = browser.post(link, {"name": "Dr Ada Okafor", "password1": "123", "password2": "123"})
    assert weak.status_code == 400 and not User.objects.filter(email="newcomer@example.com").exists()
    done = browser.post(link, {"name": "Dr Ada Okafor", "password1": PASSWORD, "password2": PASSWORD})
    assert done.status_code == 302, done.content.decode()[:2000]
    user = User.objects.get(email="newcomer@example.com")
    assert user.name == "Dr Ada Okafor" and user.emailaddress_set.get().verified
    assert Membership.objects.get(user=user).hospital == hospital_a
    assert browser.get("/admin/").status_code == 200  # logged in, in the console


def test_the_answer_is_the_same_whether_or_not_the_account_exists(alice, dave, hospital_a):
    client = jwt_client(alice)
    known = client.post(
        "/api/memberships/", {"hospital": hospital_a.pk, "email": dave.email, "role": "medical_staff"}, format="json"
    )
    unknown = client.post(
        "/api/memberships/",
        {"hospital": hospital_a.pk, "email": "nobody@example.com", "role": "medical_staff"},
        format="json",
    )
    assert known.status_code == unknown.status_code == 202
    assert set(known.json()) == set(unknown.json()) and known.json()["status"] == unknown.json()["status"] == "pending"
    assert not Membership.objects.filter(user=dave).exists()


def test_a_member_s_role_changes_without_an_invitation(alice, bob, hospital_a):
    response = jwt_client(alice).post(
        "/api/memberships/", {"hospital": hospital_a.pk, "email": bob.email, "role": "hospital_admin"}, format="json"
    )
    assert response.status_code == 200
    assert Membership.objects.get(user=bob).role == Role.HOSPITAL_ADMIN
    assert not Invitation.objects.exists()


def test_a_withdrawn_or_expired_invitation_no_longer_works(alice, dave, hospital_a, django_capture_on_commit_callbacks):
    client = jwt_client(alice)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            "/api/invitations/",
            {"hospital": hospital_a.pk, "email": dave.email, "role": "medical_staff"},
            format="json",
        )
    assert sent.status_code == 201
    link = _link()
    assert client.get("/api/invitations/").json()["results"][0]["status"] == "pending"
    assert client.delete(f"/api/invitations/{sent.json()['id']}/").status_code == 204
    assert _console(dave).post(link).status_code == 410
    assert not Membership.objects.filter(user=dave).exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/api/invitations/",
            {"hospital": hospital_a.pk, "email": dave.email, "role": "medical_staff"},
            format="json",
        )
    Invitation.objects.filter(withdrawn_at__isnull=True).update(expires_at=timezone.now())
    assert _console(dave).post(_link()).status_code == 410


def test_a_new_invitation_replaces_the_open_one(alice, dave, hospital_a, django_capture_on_commit_callbacks):
    console = _console(alice)
    with django_capture_on_commit_callbacks(execute=True):
        console.post(INVITE, {"email": dave.email, "hospital": hospital_a.pk, "role": Role.MEDICAL_STAFF})
    first = _link()
    with django_capture_on_commit_callbacks(execute=True):
        again = console.post(INVITE, {"email": dave.email, "hospital": hospital_a.pk, "role": Role.HOSPITAL_ADMIN})
    assert again.status_code == 302, again.content.decode()[:3000]
    assert _console(dave).post(first).status_code == 410
    assert _console(dave).post(_link()).status_code == 200
    assert Membership.objects.get(user=dave).role == Role.HOSPITAL_ADMIN


def test_inviting_someone_already_on_the_staff_shows_the_form_again(alice, bob, hospital_a):
    response = _console(alice).post(INVITE, {"email": bob.email, "hospital": hospital_a.pk, "role": Role.MEDICAL_STAFF})
    assert response.status_code == 200
    assert "already on the hospital" in response.content.decode()
    assert not Invitation.objects.exists()


def test_only_the_administrators_own_hospitals_are_offered(alice, dave, hospital_a, hospital_b):
    console = _console(alice)
    choices = console.get(INVITE).context["adminform"].form.fields["hospital"].queryset
    assert list(choices) == [hospital_a]
    response = console.post(INVITE, {"email": dave.email, "hospital": hospital_b.pk, "role": Role.MEDICAL_STAFF})
    assert response.status_code == 200 and "hospital" in response.context["adminform"].form.errors
    assert not Invitation.objects.exists()
    assert (
        jwt_client(alice)
        .post(
            "/api/invitations/",
            {"hospital": hospital_b.pk, "email": dave.email, "role": "medical_staff"},
            format="json",
        )
        .status_code
        == 404
    )


def test_medical_staff_cannot_invite(bob, dave, hospital_a):
    assert (
        _console(bob)
        .post(INVITE, {"email": dave.email, "hospital": hospital_a.pk, "role": Role.HOSPITAL_ADMIN})
        .status_code
        == 403
    )
    assert (
        jwt_client(bob)
        .post(
            "/api/invitations/",
            {"hospital": hospital_a.pk, "email": dave.email, "role": "hospital_admin"},
            format="json",
        )
        .status_code
        == 404
    )
    assert not Invitation.objects.exists()


def test_the_console_lists_pending_invitations_and_withdraws_them(alice, hospital_a):
    console = _console(alice)
    console.post(INVITE, {"email": "pending@example.com", "hospital": hospital_a.pk, "role": Role.MEDICAL_STAFF})
    invitation = Invitation.objects.get()
    listing = console.get("/admin/healthsync/invitation/").content.decode()
    assert "pending@example.com" in listing and "pending" in listing
    console.post("/admin/healthsync/invitation/", {"action": "withdraw", "_selected_action": [invitation.pk]})
    invitation.refresh_from_db()
    assert invitation.status == "withdrawn"


def test_memberships_cannot_be_added_directly(alice, root):
    assert _console(alice).get("/admin/healthsync/membership/add/").status_code == 403
    assert _console(root).get("/admin/healthsync/membership/add/").status_code == 403


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


def test_revoking_a_membership_from_the_console(alice, bob, hospital_a):
    membership = Membership.objects.get(user=bob, hospital=hospital_a)
    response = _console(alice).post(f"/admin/healthsync/membership/{membership.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(user=bob).exists()
    bob.refresh_from_db()
    assert not bob.is_staff
