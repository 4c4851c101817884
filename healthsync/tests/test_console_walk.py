"""No 5xx anywhere in the operations console (#23 item 1).

Each role (platform administrator, hospital administrator, medical staff, a donor) walks every ModelAdmin
registered on the console's site, on the demo data: the change list (also with nonsense in its query
string), the add form (GET, then POSTs of empty, zero, negative, huge and malformed values: dates near year 1
and 9999, overlong strings), an existing object's change form (GET and the same POSTs), every action of
``get_actions`` on a selection (and the action's own form, if it asks for one, with the same values), and
last the deletion of the selection. The console's extra pages (``register_view``) get a GET and an empty POST.
Any 5xx fails the test, listed with the role, request and exception.
"""

import itertools
import re
from html.parser import HTMLParser

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from conftest import PASSWORD, console_logged_in_ago, make_user
from donors.models import DonorProfile
from healthsync.models import Hospital, Role

pytestmark = pytest.mark.django_db

VARIANTS = ["empty", "zero", "negative", "huge", "junk"]
NUMBERS = {"zero": "0", "negative": "-1", "huge": str(10**9), "junk": "9" * 30}
MOMENTS = {
    "zero": ("0001-01-01", "00:00"),
    "negative": ("0001-01-02", "12:00"),
    "huge": ("9999-12-31", "23:59"),
    "junk": ("2024-02-30", "25:61"),
}
NO_SUCH_CHOICE = "999999999"


class _PostForms(HTMLParser):
    """What a browser sends from each POST form of a page: named inputs with their values (checked boxes
    and radios only), each select's selected (else first) option, textareas, and the first named submit."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, list[str]]]] = []
        self._data = self._select = self._textarea = None
        self._submitted = False
        self.feed(html)

    def _add(self, name, value):
        self._data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            if (attrs.get("method") or "").lower() == "post":
                self._form_id, self._data, self._submitted = attrs.get("id") or "", {}, False
            return
        name = attrs.get("name")
        if self._data is None:
            return
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind == "submit" and not self._submitted:
                self._submitted = True
                self._add(name, attrs.get("value") or "")
            elif kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._add(name, attrs.get("value") or "on")
            elif kind not in ("submit", "button", "image", "reset", "file"):
                self._add(name, attrs.get("value") or "")
        elif tag == "select" and name:
            self._select = {"name": name, "options": [], "selected": [], "multiple": "multiple" in attrs}
        elif tag == "option" and self._select is not None:
            value = attrs.get("value") or ""
            self._select["options"].append(value)
            if "selected" in attrs:
                self._select["selected"].append(value)
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if self._data is None:
            return
        if tag == "form":
            self.forms.append((self._form_id, self._data))
            self._data = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["selected"] or self._select["options"][:1]
            for value in chosen if self._select["multiple"] else chosen[:1]:
                self._add(self._select["name"], value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._add(*self._textarea)
            self._textarea = None


def page_form(response) -> dict[str, list[str]] | None:
    """The data of the page's main POST form (not the header's log-out form), as a browser would send it."""
    for form_id, data in _PostForms(response.content.decode()).forms:
        if form_id != "logout-form":
            return data
    return None


def _values(field: forms.Field, variant: str, parts: int) -> list[str] | None:
    """The value(s) of ``field`` for ``variant``; None keeps what the page had (a valid choice)."""
    if variant == "empty":
        return [""] * parts
    if isinstance(field, (forms.ChoiceField, forms.ModelMultipleChoiceField)):  # ModelChoiceField too
        return [NO_SUCH_CHOICE] * parts if variant == "junk" else None
    if isinstance(field, forms.BooleanField):
        return ["on"] * parts
    if isinstance(field, forms.SplitDateTimeField):
        return list(MOMENTS[variant])
    if isinstance(field, forms.DateTimeField):
        return [" ".join(MOMENTS[variant])] * parts
    if isinstance(field, forms.DateField):
        return [MOMENTS[variant][0]] * parts
    if isinstance(field, forms.TimeField):
        return [MOMENTS[variant][1]] * parts
    if isinstance(field, (forms.IntegerField, forms.FloatField, forms.DecimalField)):
        return [NUMBERS[variant]] * parts
    if isinstance(field, forms.FileField):
        return None
    if isinstance(field, forms.CharField):
        text = {
            "zero": "0",
            "negative": "-1",
            "huge": "x" * ((field.max_length or 10_000) + 1),
            "junk": "\x00<b>\u202e",
        }[variant]
        return [text] * parts
    return None


def variant_data(base: dict[str, list[str]], form: forms.BaseForm, variant: str) -> dict[str, list[str]]:
    """``base`` (the page's form) with each of ``form``'s editable fields set for ``variant``."""
    data = {name: list(values) for name, values in base.items()}
    for name, field in form.fields.items():
        if field.disabled or isinstance(field.widget, forms.HiddenInput):
            continue
        key = form.add_prefix(name)
        names = (
            [key + suffix for suffix in field.widget.widgets_names]
            if isinstance(field.widget, forms.MultiWidget)
            else [key]
        )
        values = _values(field, variant, len(names))
        if values is not None:
            data.update({each: [value] for each, value in zip(names, values, strict=True)})
    return data


class Walk:
    def __init__(self, role: str, user):
        self.role, self.user = role, user
        self.client = console_logged_in_ago(user, seconds=5)
        self.client.raise_request_exception = False  # a 500 is answered (and recorded), not raised
        self.failures: list[str] = []
        self.forms_sent: set[str] = set()  # the pages whose forms were sent back with each variant
        self.request = RequestFactory().get("/")
        self.request.user = user

    def check(self, method: str, url: str, what: str = "", data=None):
        response = getattr(self.client, method)(url, data) if data is not None else getattr(self.client, method)(url)
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            reason = f"{exc[0].__name__}: {exc[1]}" if exc else response.content[:200]
            self.failures.append(f"{self.role}: {method.upper()} {url} {what} -> {response.status_code} {reason}")
        return response

    def post_variants(self, url: str, response, what: str, extra: dict | None = None):
        """POST the page's form back with each variant of its fields."""
        context_form = (response.context or {}).get("adminform") or (response.context or {}).get("form")
        form = getattr(context_form, "form", context_form)
        base = page_form(response) if response.status_code == 200 else None
        if base is None or not isinstance(form, forms.BaseForm):
            return
        self.forms_sent.add(f"{what} {url}")
        for variant in VARIANTS:
            self.check("post", url, f"{what} [{variant}]", {**variant_data(base, form, variant), **(extra or {})})

    def visible_object(self, model_admin):
        """The first object of the model the role may see, else any (its change page must refuse, not fail)."""
        mine = model_admin.get_queryset(self.request).order_by("pk").first()
        return mine or model_admin.model._default_manager.order_by("pk").first()

    def model_pages(self, model, model_admin):
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        changelist = reverse(f"admin:{info}_changelist")
        self.check("get", changelist)
        for query in ["?q=" + "x" * 500 + "%00", "?o=99.-99.abc", "?p=999999", "?all=&e=1"]:
            self.check("get", changelist + query)
        if model_admin.date_hierarchy:
            self.check(
                "get", f"{changelist}?{model_admin.date_hierarchy}__year=0&{model_admin.date_hierarchy}__month=13"
            )
        add = reverse(f"admin:{info}_add")
        self.post_variants(add, self.check("get", add), "add")
        obj = self.visible_object(model_admin)
        if obj is not None:
            change = reverse(f"admin:{info}_change", args=[obj.pk])
            self.post_variants(change, self.check("get", change), "change")
            self.check("get", reverse(f"admin:{info}_history", args=[obj.pk]))
            self.check("get", reverse(f"admin:{info}_delete", args=[obj.pk]))
        self.check("get", reverse(f"admin:{info}_change", args=["not-an-id"]))

    def actions(self, model, model_admin, *, deleting: bool):
        obj = self.visible_object(model_admin)
        if obj is None:
            return
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for name in model_admin.get_actions(self.request):
            if (name == "delete_selected") != deleting:
                continue
            chosen = {"action": name, ACTION_CHECKBOX_NAME: [str(obj.pk)], "index": "0"}
            self.check("post", changelist, f"action {name} on nothing", {"action": name, "index": "0"})
            response = self.check("post", changelist, f"action {name}", chosen)
            if response.status_code == 200 and response.context and "form" in response.context:
                self.post_variants(changelist, response, f"action {name} form", extra={"apply": "1"})
            if deleting and response.status_code == 200:
                self.check("post", changelist, f"action {name} confirmed", {**chosen, "post": "yes"})

    def extra_pages(self, site, samples: dict[str, list]):
        for item in site._extra_views:
            params = re.findall(r"<(?:(\w+):)?(\w+)>", item["route"])
            names = [name for _, name in params]
            for values in itertools.product(
                *(samples.get(name) or _samples(site, kind, name) for kind, name in params)
            ):
                url = reverse(f"admin:{item['name']}", kwargs=dict(zip(names, values, strict=True)))
                self.check("get", url)
                self.check("get", url + "?start=0001-01-01&end=9999-12-31&format=csv&condition=" + NO_SUCH_CHOICE)
                self.check("get", url + "?start=junk&end=2024-02-30&format=pdf")
                self.check("post", url, "empty", {})

    def run(self, site):
        self.check("get", reverse("admin:index"))
        for app_label in sorted({model._meta.app_label for model in site._registry}):
            self.check("get", reverse("admin:app_list", kwargs={"app_label": app_label}))
        self.check("get", reverse("admin:password_change"))
        self.extra_pages(site, {"name": ["blood-utilisation", "donors", "requests", "diagnostics", "no-such-report"]})
        registry = list(site._registry.items())
        for model, model_admin in registry:
            self.model_pages(model, model_admin)
        for model, model_admin in registry:
            self.actions(model, model_admin, deleting=False)
        for model, model_admin in registry:
            self.actions(model, model_admin, deleting=True)


def _samples(site, kind: str, name: str) -> list:
    """Values for a URL parameter of an extra page: ``<int:analysis_id>`` the first ImageAnalysis and an id
    that is none; any other number or word, a few that mean nothing."""
    if kind != "int":
        return ["x", "no-such-page"]
    model = next(
        (model for model in site._registry if name == f"{model._meta.model_name.removeprefix('image')}_id"), None
    )
    first = model._default_manager.order_by("pk").values_list("pk", flat=True).first() if model else None
    return [first or 1, 10**9]


@pytest.fixture
def demo(db):
    call_command("seed_demo")
    return Hospital.objects.get(name="St Mary's General Hospital")


def _donor():
    user = DonorProfile.objects.select_related("user").order_by("pk").first().user
    user.set_password(PASSWORD)
    user.save()
    return user


ROLES = {
    "platform administrator": lambda root, hospital: root,
    "hospital administrator": lambda root, hospital: make_user(
        "walk-admin@stmarys.example", hospital=hospital, role=Role.HOSPITAL_ADMIN
    ),
    "medical staff": lambda root, hospital: make_user(
        "walk-doctor@stmarys.example", hospital=hospital, role=Role.MEDICAL_STAFF
    ),
    "donor": lambda root, hospital: _donor(),
}


@pytest.mark.parametrize("role", list(ROLES))
def test_no_console_page_answers_5xx(role, root, demo):
    walk = Walk(role, ROLES[role](root, demo))
    walk.run(admin.site)
    print(f"{role}: {len(walk.forms_sent)} forms sent back:", *sorted(walk.forms_sent), sep="\n  ")
    if role != "donor":  # the walk reached the forms (a donor is sent to log in)
        assert (
            any(sent.startswith("add /admin/bloodbank/bloodrequest/") for sent in walk.forms_sent)
            or role == "platform administrator"
        )
        assert any(sent.startswith("action ") for sent in walk.forms_sent)
    assert not walk.failures, f"{len(walk.failures)} server error(s):\n" + "\n".join(walk.failures[:60])
