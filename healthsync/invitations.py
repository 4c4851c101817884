"""Staff invitations: the one way a person becomes a hospital's staff.

A hospital administrator invites an email address to a role; the person accepts through the link of
the email, logged in as that address, or by setting a password for a new account. Nobody is attached
to a hospital without accepting, and the answer to an invitation is the same whether or not the
address has an account (nothing about other accounts is revealed).
"""

import hashlib
import secrets
from datetime import timedelta

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from . import services
from .errors import Conflict, DomainError, Forbidden
from .models import Hospital, Invitation, Membership, User
from .permissions import MANAGE_STAFF, can


class InvitationInvalid(DomainError):
    """The link's invitation is unknown, withdrawn, used or out of date."""

    status_code = 410
    code = "invitation_invalid"

    def __init__(self):
        super().__init__("This invitation link is no longer valid: ask the hospital's administrator for a new one.")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_send(*, hospital: Hospital, email: str, role: str, by: User, site: str) -> Invitation:
    """Invite ``email`` to ``role`` at ``hospital`` and email the link on ``site`` (the scheme and host the
    inviter uses, e.g. ``https://healthsync.example``) after commit. An open invitation to the same
    address is withdrawn first, so the newest link is the only one that works. A person already on
    the hospital's staff is refused (change their role instead)."""
    if role not in services.ROLE_VALUES:
        raise ValidationError({"role": [f"Unknown staff role {role!r}."]})
    if not can(by, MANAGE_STAFF, hospital):
        raise Forbidden("You cannot manage this hospital's staff.")
    email = User.objects.normalize_email(email or "").strip().lower()
    if not email:
        raise ValidationError({"email": ["An email address is required."]})
    if Membership.objects.filter(hospital=hospital, user__email__iexact=email).exists():
        raise Conflict(
            "This person is already on the hospital's staff: change their role instead.",
            code="already_staff",
            fields={"email": ["Already on this hospital's staff."]},
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        open_invitations(hospital=hospital, email=email).update(withdrawn_at=now)
        invitation = Invitation.objects.create(
            hospital=hospital,
            email=email,
            role=role,
            invited_by=by,
            token_digest=_digest(token),
            expires_at=now + timedelta(days=settings.HEALTHSYNC_INVITATION_DAYS),
        )
        context = {
            "invitation": invitation,
            "link": site.rstrip("/") + reverse("invitation", args=[token]),
            "inviter": by.name or by.email,
            "days": settings.HEALTHSYNC_INVITATION_DAYS,
        }
        transaction.on_commit(lambda: get_adapter().send_mail("account/email/invitation", email, context))
    return invitation


def open_invitations(*, hospital: Hospital, email: str):
    return Invitation.objects.filter(
        hospital=hospital, email__iexact=email, accepted_at__isnull=True, withdrawn_at__isnull=True
    )


def invitation_withdraw(*, invitation: Invitation, by: User) -> Invitation:
    if not can(by, MANAGE_STAFF, invitation.hospital):
        raise Forbidden("You cannot manage this hospital's staff.")
    if invitation.status != "pending":
        raise Conflict(f"This invitation is {invitation.status} already.", code="invitation_closed")
    invitation.withdrawn_at = timezone.now()
    invitation.save(update_fields=["withdrawn_at"])
    return invitation


def invitation_by_token(token: str) -> Invitation:
    """The pending invitation of a link, or ``InvitationInvalid`` (one message for every reason)."""
    invitation = (
        Invitation.objects.select_related("hospital", "invited_by").filter(token_digest=_digest(token or "")).first()
    )
    if invitation is None or invitation.status != "pending":
        raise InvitationInvalid()
    return invitation


def account_exists(invitation: Invitation) -> bool:
    return User.objects.filter(email__iexact=invitation.email).exists()


def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """``user`` (logged in as the invited address) takes the role."""
    if user.email.lower() != invitation.email.lower():
        raise Forbidden(f"This invitation is for {invitation.email}: log in with that address to accept it.")
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != "pending":
            raise InvitationInvalid()
        membership = services.membership_grant(hospital=invitation.hospital, user=user, role=invitation.role, by=None)
        membership.granted_by = invitation.invited_by
        membership.save(update_fields=["granted_by"])
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def invitation_accept_new_account(*, invitation: Invitation, name: str, password: str) -> User:
    """The invited address has no account: create it with ``password`` (its address verified by the
    link) and take the role."""
    with transaction.atomic():
        user = services.user_register(email=invitation.email, password=password, name=name.strip())
        EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
        invitation_accept(invitation=invitation, user=user)
    return user
