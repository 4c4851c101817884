"""Web pages of the shared core: accepting a staff invitation."""

from allauth.account.utils import perform_login
from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from . import invitations
from .errors import DomainError


class NewAccountForm(forms.Form):
    """The invited address has no account yet: the person names themselves and sets a password."""

    name = forms.CharField(max_length=150, help_text="As colleagues should see it, e.g. Dr Ada Okafor.")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Password (again)", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


@require_http_methods(["GET", "POST"])
def invitation(request, token: str):
    """The link of an invitation email. An address with an account accepts while logged in as it; an
    address without one sets a password here (the link proves the address) and is logged in."""
    try:
        offer = invitations.invitation_by_token(token)
    except DomainError as exc:
        return render(request, "account/invitation.html", {"error": exc.message}, status=exc.status_code)
    has_account = invitations.account_exists(offer)
    form = None if has_account else NewAccountForm(request.POST if request.method == "POST" else None)
    context = {"invitation": offer, "has_account": has_account, "form": form}
    if request.method == "GET":
        return render(request, "account/invitation.html", context)
    if has_account and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=reverse("account_login"))
    try:
        if has_account:
            invitations.invitation_accept(invitation=offer, user=request.user)
            return render(request, "account/invitation.html", {**context, "accepted": True})
        if form.is_valid():
            user = invitations.invitation_accept_new_account(
                invitation=offer, name=form.cleaned_data["name"], password=form.cleaned_data["password1"]
            )
            return perform_login(request, user, redirect_url=reverse("admin:index"))
    except ValidationError as exc:  # the password rules
        for field, messages in exc.message_dict.items():
            form.add_error("password1" if field == "password" else None, messages)
    except DomainError as exc:
        return render(request, "account/invitation.html", {**context, "error": exc.message}, status=exc.status_code)
    return render(request, "account/invitation.html", context, status=400)
