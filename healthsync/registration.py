"""Registration that does not tell whether an address already has an account.

With mandatory email verification (``HEALTHSYNC_EMAIL_VERIFICATION=mandatory``, the production default)
every registration endpoint answers the same for a new address and a known one: 202, "check your email".
A new address gets its account and django-allauth's confirmation link, and cannot log in until it
follows it; a known address gets allauth's "you already have an account" email instead, and nothing is
created. Every other check (password rules, age, a hospital's name) runs first, alike for both.
"""

from collections.abc import Callable

from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.email_verification import send_verification_email_to_address
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction

from .errors import Conflict, DomainError
from .models import User

CHECK_YOUR_EMAIL = "Check your email: follow the link we sent to confirm the address, then log in."


class EmailUnconfirmed(DomainError):
    status_code = 403
    code = "email_unconfirmed"


def verification_required() -> bool:
    return settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"


def register_quietly(request, *, email: str, create: Callable[[], object]) -> None:
    """Run ``create`` (a registration service) for ``email`` and send the confirmation link; when the
    address already has an account (the service's ``email_taken``), email its owner instead."""
    try:
        with transaction.atomic():
            create()
            user = User.objects.get(email__iexact=email.strip())
            address, _ = EmailAddress.objects.get_or_create(user=user, email=user.email, defaults={"primary": True})
    except Conflict as exc:
        if exc.code != "email_taken":
            raise
        get_adapter(request).send_account_already_exists_mail(email.strip().lower())
        return
    send_verification_email_to_address(request, address, signup=True)


def check_email_confirmed(user: User) -> None:
    """Logins outside allauth's pages (the JWT logins) refuse an account that registered itself and has not
    confirmed its address yet. Accounts made by an administrator, an invitation or a command have no
    address record to confirm and log in as before."""
    if (
        verification_required()
        and EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=False).exists()
    ):
        raise EmailUnconfirmed("Confirm your email address first: follow the link we sent when you registered.")
