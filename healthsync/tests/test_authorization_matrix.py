"""The authorisation matrix: every route of the URL conf (and every operation of the OpenAPI
schema) has an explicit rule saying what each role gets, and each rule is exercised with real
requests, for the role's own hospital's objects and for another hospital's.

Roles (columns of every rule, in this order):

    anon      not logged in
    donor     a donor (donor profile, no hospital role)
    norole    a registered account with no role at all
    staff     medical staff at Alpha (bob)
    hadmin    hospital administrator at Alpha (alice)
    platform  platform administrator (superuser)

Outcome classes:

    ok      2xx or 3xx (a redirect that is not to a login page)
    pass    authorisation passed: any answer but 401/403 (a write with an empty or minimal body
            is expected to fail validation with 400, or to succeed, or to meet a business rule: 404/409)
    login   an HTML page redirecting to a login page (302 to .../login/)
    401, 403, 404, 405, ...   exactly that status

No request may ever answer 5xx.

Which routes are covered (decided here, checked by ``test_every_route_has_a_rule``):

* every route under ``/api/``, ``/fhir/``, ``/dicomweb/``, ``/healthz``, the donor portal, ``/accounts/`` (allauth)
  and the site root: one RULES entry per route pattern (DRF's format-suffix variants included);
* the operations console (admin): every custom view (index, login/logout, password change,
  jsi18n, view-on-site, app index, catch-all, the imaging and reports pages, the user
  password page) has a RULES entry; the pages Django generates for each registered model
  (changelist, add, change, history, delete and the bare ``<id>/`` redirect) are covered by
  ADMIN_MODELS, one row per model of ``admin.site._registry``: the changelist and add page are
  requested for every model and role, the change/history/delete pages for a representative
  sample (hospital, blood unit) with own and other hospital rows;
* the WebSocket routes of ``config.routing`` and ``notifications.routing``: WEBSOCKET_RULES.

A route, admin model, schema operation or WebSocket route without a rule fails the test, naming it.
"""

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import PASSWORD, make_user
from healthsync.models import Invitation, Membership, Role

ROLES = ("anon", "donor", "norole", "staff", "hadmin", "platform")
STAFF_ROLES = ("staff", "hadmin", "platform")


@dataclass
class Rule:
    path: str  # concrete path with {placeholders} for objects
    methods: dict  # method -> expectation string (one class per role, ROLES order)
    other: dict = field(default_factory=dict)  # method -> expectations with another hospital's object
    body: dict | None = None  # minimal body for writes (else empty); may use {placeholders}
    other_body: dict | None = None
    html: bool = False  # a page: requested with a session (force_login) instead of a JWT
    isolated: bool = False  # ends the session (logout): sent from a client of its own


# Shorthands (ROLES order: anon donor norole staff hadmin platform).
PUBLIC = "ok ok ok ok ok ok"
PUBLIC_WRITE = "pass pass pass pass pass pass"
AUTH_READ = "401 ok ok ok ok ok"
AUTH_WRITE = "401 pass pass pass pass pass"
STAFF_READ = "401 403 403 ok ok ok"
STAFF_WRITE = "401 403 403 pass pass pass"
DONOR_READ = "401 ok 403 403 403 403"
DONOR_WRITE = "401 pass 403 403 403 403"
OTHER_STAFF_READ = "401 403 403 404 404 ok"  # another hospital's object: 404 to its staff' peers
OTHER_STAFF_WRITE = "401 403 403 404 404 pass"
CONSOLE = "login login login ok ok ok"  # admin pages: non-staff are sent to the admin login
DONOR_PAGE = "login 200 302 302 302 302"  # portal pages: staff go to the console, no-role accounts to the welcome page
DONOR_FORM = "login ok 302 302 302 302"  # portal form posts: the donor is redirected back to the portal
LOGIN_REQUIRED_PAGE = "login ok ok ok ok ok"
DICOMWEB_READ = "401 403 403 ok ok 403"  # the hospital's own staff; platform administrators see no patients
DICOMWEB_WRITE = "401 403 403 pass pass 403"
OTHER_DICOMWEB = "401 403 403 404 404 403"
OTHER_DICOMWEB_WRITE = "401 403 403 pass pass 403"  # STOW-RS into a study UID: nothing of the other hospital's is read

A = "/api/blood-bank"

RULES: dict[str, Rule] = {
    # --- site root, health, schema -----------------------------------------------------------
    "": Rule("/", {"GET": PUBLIC}, html=True),
    "healthz": Rule("/healthz", {"GET": PUBLIC}),
    "api/schema/": Rule("/api/schema/", {"GET": PUBLIC}),
    "api/docs/": Rule("/api/docs/", {"GET": PUBLIC}, html=True),
    "api/": Rule("/api/", {"GET": AUTH_READ}),
    "api/<drf_format_suffix:format>": Rule("/api/.json", {"GET": AUTH_READ}),
    # --- accounts and hospitals (healthsync.api) ---------------------------------------------
    "api/auth/register": Rule("/api/auth/register", {"POST": PUBLIC_WRITE}),
    "api/auth/login": Rule("/api/auth/login", {"POST": PUBLIC_WRITE}),
    "api/auth/refresh": Rule("/api/auth/refresh", {"POST": PUBLIC_WRITE}),
    "api/auth/logout": Rule("/api/auth/logout", {"POST": PUBLIC_WRITE}, isolated=True),
    "api/me": Rule("/api/me", {"GET": AUTH_READ}),
    "api/system/worker-check": Rule("/api/system/worker-check", {"POST": STAFF_WRITE}),
    "api/^hospitals/$": Rule("/api/hospitals/", {"GET": AUTH_READ, "POST": "401 403 403 403 403 pass"}),
    "api/^hospitals\\.(?P<format>[a-z0-9]+)/?$": Rule("/api/hospitals.json", {"GET": AUTH_READ}),
    "api/^hospitals/(?P<pk>[^/.]+)/$": Rule(
        "/api/hospitals/{hospital}/",
        {"GET": "401 404 404 ok ok ok", "PATCH": "401 404 404 403 pass pass", "PUT": "401 404 404 403 pass pass"},
        other={"GET": "401 404 404 404 404 ok", "PATCH": "401 404 404 404 404 pass", "PUT": "401 404 404 404 404 pass"},
    ),
    "api/^hospitals/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$": Rule(
        "/api/hospitals/{hospital}.json",
        {"GET": "401 404 404 ok ok ok"},
        other={"GET": "401 404 404 404 404 ok"},
    ),
    "api/^hospitals/(?P<pk>[^/.]+)/verify/$": Rule(
        "/api/hospitals/{hospital}/verify/",
        {"POST": "401 404 404 403 403 pass"},
        other={"POST": "401 404 404 404 404 pass"},
    ),
    "api/^hospitals/(?P<pk>[^/.]+)/verify\\.(?P<format>[a-z0-9]+)/?$": Rule(
        "/api/hospitals/{hospital}/verify.json",
        {"POST": "401 404 404 403 403 pass"},
        other={"POST": "401 404 404 404 404 pass"},
    ),
    "api/^memberships/$": Rule(
        "/api/memberships/",
        {"GET": AUTH_READ, "POST": "401 404 404 404 pass pass"},
        other={"POST": "401 404 404 404 404 pass"},
        body={"hospital": "{hospital}", "email": "grantee@example.com", "role": "medical_staff"},
    ),
    "api/^memberships\\.(?P<format>[a-z0-9]+)/?$": Rule("/api/memberships.json", {"GET": AUTH_READ}),
    "api/^memberships/(?P<pk>[^/.]+)/$": Rule(
        "/api/memberships/{membership}/",
        {"GET": "401 404 404 404 ok ok", "DELETE": "401 404 404 404 pass pass"},
        other={"GET": "401 404 404 404 404 ok", "DELETE": "401 404 404 404 404 pass"},
    ),
    "api/^memberships/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$": Rule(
        "/api/memberships/{membership}.json",
        {"GET": "401 404 404 404 ok ok"},
        other={"GET": "401 404 404 404 404 ok"},
    ),
    "api/^invitations/$": Rule(
        "/api/invitations/",
        {"GET": AUTH_READ, "POST": "401 404 404 404 pass pass"},
        other={"POST": "401 404 404 404 404 pass"},
        body={"hospital": "{hospital}", "email": "invitee@example.com", "role": "medical_staff"},
    ),
    "api/^invitations\\.(?P<format>[a-z0-9]+)/?$": Rule("/api/invitations.json", {"GET": AUTH_READ}),
    "api/^invitations/(?P<pk>[^/.]+)/$": Rule(
        "/api/invitations/{invitation}/",
        {"GET": "401 404 404 404 ok ok", "DELETE": "401 404 404 404 pass pass"},
        other={"GET": "401 404 404 404 404 ok", "DELETE": "401 404 404 404 404 pass"},
    ),
    "api/^invitations/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$": Rule(
        "/api/invitations/{invitation}.json",
        {"GET": "401 404 404 404 ok ok"},
        other={"GET": "401 404 404 404 404 ok"},
    ),
    # --- blood bank: hospitals -----------------------------------------------------------------
    "api/blood-bank/hospital/register": Rule(f"{A}/hospital/register", {"POST": PUBLIC_WRITE}),
    "api/blood-bank/hospital/login": Rule(f"{A}/hospital/login", {"POST": PUBLIC_WRITE}),
    "api/blood-bank/hospital/inventory": Rule(f"{A}/hospital/inventory", {"GET": "401 403 403 ok ok pass"}),
    "api/blood-bank/hospital/inventory/add": Rule(f"{A}/hospital/inventory/add", {"POST": STAFF_WRITE}),
    "api/blood-bank/hospital/request": Rule(f"{A}/hospital/request", {"POST": STAFF_WRITE}),
    "api/blood-bank/hospital/request/fulfill/<int:request_id>": Rule(
        f"{A}/hospital/request/fulfill/{{request}}",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/hospital/requests": Rule(f"{A}/hospital/requests", {"GET": STAFF_READ}),
    "api/blood-bank/hospitals": Rule(f"{A}/hospitals", {"GET": PUBLIC}),
    "api/blood-bank/blood-types": Rule(f"{A}/blood-types", {"GET": PUBLIC}),
    "api/blood-bank/units/": Rule(f"{A}/units/", {"GET": STAFF_READ}),
    "api/blood-bank/units/<int:pk>/": Rule(
        f"{A}/units/{{unit}}/", {"GET": STAFF_READ}, other={"GET": OTHER_STAFF_READ}
    ),
    "api/blood-bank/units/<int:unit_id>/discard": Rule(
        f"{A}/units/{{unit}}/discard",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/units/<int:unit_id>/release": Rule(
        f"{A}/units/{{unit}}/release",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/requests/<int:pk>/": Rule(
        f"{A}/requests/{{request}}/",
        {"GET": STAFF_READ},
        other={"GET": OTHER_STAFF_READ},
    ),
    "api/blood-bank/requests/<int:request_id>/cancel": Rule(
        f"{A}/requests/{{request}}/cancel",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/requests/<int:request_id>/emergency-release": Rule(
        f"{A}/requests/{{request}}/emergency-release",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/requests/<int:request_id>/network-stock": Rule(
        f"{A}/requests/{{request}}/network-stock",
        {"GET": STAFF_READ},
        other={"GET": OTHER_STAFF_READ},
    ),
    "api/blood-bank/allocations/<int:allocation_id>/crossmatch": Rule(
        f"{A}/allocations/{{allocation}}/crossmatch",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/allocations/<int:allocation_id>/transfuse": Rule(
        f"{A}/allocations/{{allocation}}/transfuse",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/allocations/<int:allocation_id>/transfusion": Rule(
        f"{A}/allocations/{{allocation}}/transfusion",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/allocations/<int:allocation_id>/return": Rule(
        f"{A}/allocations/{{allocation}}/return",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/allocations/<int:allocation_id>/issue": Rule(
        f"{A}/allocations/{{allocation}}/issue",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/allocations/<int:allocation_id>/cancel": Rule(
        f"{A}/allocations/{{allocation}}/cancel",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/transfers/": Rule(f"{A}/transfers/", {"GET": STAFF_READ, "POST": STAFF_WRITE}),
    "api/blood-bank/transfers/<int:transfer_id>/<str:step>": Rule(
        f"{A}/transfers/{{transfer}}/approve",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/par-levels/": Rule(f"{A}/par-levels/", {"GET": STAFF_READ, "POST": STAFF_WRITE}),
    "api/blood-bank/inventory/network": Rule(f"{A}/inventory/network", {"GET": STAFF_READ}),
    # --- blood bank: donors ----------------------------------------------------------------------
    "api/blood-bank/donor/register": Rule(f"{A}/donor/register", {"POST": PUBLIC_WRITE}),
    "api/blood-bank/donor/login": Rule(f"{A}/donor/login", {"POST": PUBLIC_WRITE}),
    "api/blood-bank/donor/donate": Rule(f"{A}/donor/donate", {"POST": DONOR_WRITE}),
    "api/blood-bank/donor/history": Rule(f"{A}/donor/history", {"GET": DONOR_READ}),
    "api/blood-bank/donor/profile": Rule(f"{A}/donor/profile", {"GET": DONOR_READ, "PATCH": DONOR_WRITE}),
    "api/blood-bank/donor/eligibility": Rule(f"{A}/donor/eligibility", {"GET": DONOR_READ}),
    "api/blood-bank/donor/appointments": Rule(f"{A}/donor/appointments", {"GET": DONOR_READ, "POST": DONOR_WRITE}),
    "api/blood-bank/donor/appointments/<int:appointment_id>": Rule(
        f"{A}/donor/appointments/{{own_appointment}}",
        {"DELETE": DONOR_WRITE},
        other={"DELETE": "401 404 403 403 403 403"},
    ),
    "api/blood-bank/slots": Rule(f"{A}/slots", {"GET": PUBLIC}),
    "api/blood-bank/staff/slots/": Rule(f"{A}/staff/slots/", {"GET": STAFF_READ, "POST": STAFF_WRITE}),
    "api/blood-bank/staff/slots/<int:slot_id>/": Rule(
        f"{A}/staff/slots/{{slot}}/",
        {"GET": STAFF_READ, "PATCH": STAFF_WRITE, "DELETE": STAFF_WRITE},
        other={"GET": OTHER_STAFF_READ, "PATCH": OTHER_STAFF_WRITE, "DELETE": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/staff/appointments/": Rule(f"{A}/staff/appointments/", {"GET": STAFF_READ}),
    "api/blood-bank/staff/appointments/<int:appointment_id>/<str:step>": Rule(
        f"{A}/staff/appointments/{{appointment}}/no-show",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/staff/donations/": Rule(f"{A}/staff/donations/", {"GET": STAFF_READ}),
    "api/blood-bank/staff/donations/<int:donation_id>/": Rule(
        f"{A}/staff/donations/{{donation}}/",
        {"GET": STAFF_READ},
        other={"GET": OTHER_STAFF_READ},
    ),
    **{
        f"api/blood-bank/staff/donations/<int:donation_id>/{step}": Rule(
            f"{A}/staff/donations/{{donation}}/{step}",
            {"POST": STAFF_WRITE},
            other={"POST": OTHER_STAFF_WRITE},
        )
        for step in ("screening", "collection", "test-results", "typing", "release", "cancel")
    },
    "api/blood-bank/staff/donors/": Rule(f"{A}/staff/donors/", {"GET": STAFF_READ}),
    "api/blood-bank/staff/donors/<int:donor_id>/deferrals": Rule(
        f"{A}/staff/donors/{{donor}}/deferrals",
        {"GET": STAFF_READ, "POST": STAFF_WRITE},
        other={"GET": OTHER_STAFF_READ, "POST": OTHER_STAFF_WRITE},
    ),
    "api/blood-bank/staff/deferrals/<int:deferral_id>/lift": Rule(
        f"{A}/staff/deferrals/{{deferral}}/lift",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    # --- notifications (per user: "other" is someone else's notification) -----------------------
    "api/notifications": Rule("/api/notifications", {"GET": AUTH_READ}),
    "api/notifications/<int:notification_id>/read": Rule(
        "/api/notifications/{own_notification}/read",
        {"POST": AUTH_WRITE},
        other={"POST": "401 404 404 404 404 404"},
    ),
    "api/notifications/read-all": Rule("/api/notifications/read-all", {"POST": AUTH_WRITE}),
    # --- reports and FHIR ---------------------------------------------------------------------------
    "api/reports/units.csv": Rule("/api/reports/units.csv", {"GET": STAFF_READ}),
    "api/reports/<slug:name>": Rule("/api/reports/blood-utilisation", {"GET": STAFF_READ}),
    "fhir/<str:resource_type>": Rule("/fhir/BiologicallyDerivedProduct", {"GET": STAFF_READ}),
    "fhir/<str:resource_type>/<int:resource_id>": Rule(
        "/fhir/BiologicallyDerivedProduct/{unit}",
        {"GET": STAFF_READ},
        other={"GET": OTHER_STAFF_READ},
    ),
    # --- DICOMweb: the hospital's own staff only (it answers in patient identifiers); a STOW-RS body
    # that is no multipart/related DICOM is 415, past the authorisation
    "dicomweb/studies": Rule("/dicomweb/studies", {"GET": DICOMWEB_READ, "POST": DICOMWEB_WRITE}),
    "dicomweb/studies/<str:study>": Rule(
        "/dicomweb/studies/{dicom_study}",
        {"GET": DICOMWEB_READ, "POST": DICOMWEB_WRITE},
        other={"GET": OTHER_DICOMWEB, "POST": OTHER_DICOMWEB_WRITE},
    ),
    **{
        route: Rule(path, {"GET": DICOMWEB_READ}, other={"GET": OTHER_DICOMWEB})
        for route, path in (
            ("dicomweb/studies/<str:study>/metadata", "/dicomweb/studies/{dicom_study}/metadata"),
            ("dicomweb/studies/<str:study>/series", "/dicomweb/studies/{dicom_study}/series"),
            (
                "dicomweb/studies/<str:study>/series/<str:series>",
                "/dicomweb/studies/{dicom_study}/series/{dicom_series}",
            ),
            (
                "dicomweb/studies/<str:study>/series/<str:series>/metadata",
                "/dicomweb/studies/{dicom_study}/series/{dicom_series}/metadata",
            ),
            (
                "dicomweb/studies/<str:study>/series/<str:series>/instances",
                "/dicomweb/studies/{dicom_study}/series/{dicom_series}/instances",
            ),
            (
                "dicomweb/studies/<str:study>/series/<str:series>/instances/<str:instance>",
                "/dicomweb/studies/{dicom_study}/series/{dicom_series}/instances/{dicom_instance}",
            ),
            (
                "dicomweb/studies/<str:study>/series/<str:series>/instances/<str:instance>/metadata",
                "/dicomweb/studies/{dicom_study}/series/{dicom_series}/instances/{dicom_instance}/metadata",
            ),
        )
    },
    # --- imaging ---------------------------------------------------------------------------------------
    "api/datasets": Rule("/api/datasets", {"GET": STAFF_READ}),
    "api/models": Rule("/api/models", {"GET": STAFF_READ}),
    "api/conditions": Rule("/api/conditions", {"GET": STAFF_READ}),
    "api/conditions/<str:reference>": Rule("/api/conditions/pneumonia", {"GET": STAFF_READ}),
    # platform administrators only; others are told nothing exists (a missing model: 404 for everyone)
    "api/models/<int:model_id>/activate": Rule("/api/models/999999/activate", {"POST": "401 403 403 404 404 pass"}),
    "api/models/<int:model_id>/retire": Rule("/api/models/999999/retire", {"POST": "401 403 403 404 404 pass"}),
    "api/load-model": Rule("/api/load-model", {"POST": STAFF_WRITE}),
    "api/predict": Rule("/api/predict", {"POST": STAFF_WRITE}),
    "api/analyses": Rule("/api/analyses", {"GET": STAFF_READ}),
    "api/analyses/<int:pk>": Rule("/api/analyses/{analysis}", {"GET": STAFF_READ}, other={"GET": OTHER_STAFF_READ}),
    "api/analyses/<int:analysis_id>/confirm": Rule(
        "/api/analyses/{analysis}/confirm",
        {"POST": STAFF_WRITE},
        other={"POST": OTHER_STAFF_WRITE},
    ),
    "api/analyses/<int:analysis_id>/gradcam.png": Rule(
        "/api/analyses/{analysis}/gradcam.png",
        {"GET": STAFF_WRITE},
        other={"GET": OTHER_STAFF_WRITE},
    ),
    "api/analyses/<int:analysis_id>/image": Rule(
        "/api/analyses/{analysis}/image",
        {"GET": STAFF_READ},
        other={"GET": OTHER_STAFF_READ},
    ),
    # --- donor portal and public pages -------------------------------------------------------------
    "donor/": Rule("/donor/", {"GET": DONOR_PAGE}, html=True),
    "donor/welcome/": Rule("/donor/welcome/", {"GET": "login 302 200 302 302 302"}, html=True),
    "donor/profile/": Rule("/donor/profile/", {"GET": DONOR_PAGE}, html=True),
    "donor/book/": Rule("/donor/book/", {"GET": DONOR_PAGE}, html=True),
    "donor/book/<int:slot_id>/": Rule("/donor/book/{slot}/", {"POST": DONOR_FORM}, html=True),
    "donor/appointments/<int:appointment_id>/cancel/": Rule(
        "/donor/appointments/{own_appointment}/cancel/",
        {"POST": DONOR_FORM},
        html=True,
        other={"POST": "login 404 302 302 302 302"},
    ),
    "donor/history/": Rule("/donor/history/", {"GET": DONOR_PAGE}, html=True),
    "donor/inbox/": Rule("/donor/inbox/", {"GET": DONOR_PAGE}, html=True),
    "shortages/": Rule("/shortages/", {"GET": PUBLIC}, html=True),
    # --- accounts (allauth) ---------------------------------------------------------------------------
    "accounts/login/": Rule("/accounts/login/", {"GET": PUBLIC}, html=True),
    # A link's token is the only key: an unknown one is 410 for everyone (test_admin_memberships has the rest).
    "accounts/invitations/<str:token>/": Rule(
        "/accounts/invitations/no-such-token/",
        {"GET": "410 410 410 410 410 410", "POST": "410 410 410 410 410 410"},
        html=True,
    ),
    "accounts/logout/": Rule("/accounts/logout/", {"GET": PUBLIC, "POST": PUBLIC}, html=True, isolated=True),
    "accounts/inactive/": Rule("/accounts/inactive/", {"GET": PUBLIC}, html=True),
    "accounts/signup/": Rule("/accounts/signup/", {"GET": PUBLIC}, html=True),
    "accounts/reauthenticate/": Rule("/accounts/reauthenticate/", {"GET": LOGIN_REQUIRED_PAGE}, html=True),
    "accounts/reauthenticate/code/": Rule("/accounts/reauthenticate/code/", {"GET": LOGIN_REQUIRED_PAGE}, html=True),
    "accounts/reauthenticate/code/confirm/": Rule(
        "/accounts/reauthenticate/code/confirm/",
        {"GET": LOGIN_REQUIRED_PAGE},
        html=True,
    ),
    "accounts/email/": Rule("/accounts/email/", {"GET": LOGIN_REQUIRED_PAGE}, html=True),
    "accounts/confirm-email/": Rule("/accounts/confirm-email/", {"GET": PUBLIC}, html=True),
    "accounts/password/change/": Rule("/accounts/password/change/", {"GET": LOGIN_REQUIRED_PAGE}, html=True),
    "accounts/password/set/": Rule("/accounts/password/set/", {"GET": LOGIN_REQUIRED_PAGE}, html=True),
    "accounts/password/reset/": Rule("/accounts/password/reset/", {"GET": PUBLIC}, html=True),
    "accounts/login/code/confirm/": Rule(  # no login code pending: anonymous back to the login page, others away
        "/accounts/login/code/confirm/",
        {"GET": "login ok ok ok ok ok"},
        html=True,
    ),
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": Rule(
        "/accounts/confirm-email/not-a-key/", {"GET": PUBLIC}, html=True
    ),
    "accounts/password/reset/key/done/": Rule("/accounts/password/reset/key/done/", {"GET": PUBLIC}, html=True),
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": Rule(
        "/accounts/password/reset/key/1-not-a-key/",
        {"GET": PUBLIC},
        html=True,
    ),
    "accounts/password/reset/done/": Rule("/accounts/password/reset/done/", {"GET": PUBLIC}, html=True),
    # --- two-factor authentication (allauth.mfa); the matrix's accounts have no authenticator ---------
    "accounts/2fa/": Rule("/accounts/2fa/", {"GET": LOGIN_REQUIRED_PAGE}, html=True),
    "accounts/2fa/authenticate/": Rule(  # no login waiting for its code: anonymous back to the login page, others away
        "/accounts/2fa/authenticate/",
        {"GET": "login ok ok ok ok ok", "POST": "login ok ok ok ok ok"},
        html=True,
    ),
    "accounts/2fa/reauthenticate/": Rule(  # without an authenticator: on to the password form
        "/accounts/2fa/reauthenticate/",
        {"GET": LOGIN_REQUIRED_PAGE},
        html=True,
    ),
    "accounts/2fa/totp/activate/": Rule(  # first the password again (allauth's re-authentication)
        "/accounts/2fa/totp/activate/",
        {"GET": LOGIN_REQUIRED_PAGE, "POST": LOGIN_REQUIRED_PAGE},
        html=True,
    ),
    "accounts/2fa/totp/deactivate/": Rule(
        "/accounts/2fa/totp/deactivate/", {"GET": "login 404 404 404 404 404"}, html=True
    ),
    "accounts/2fa/recovery-codes/": Rule(
        "/accounts/2fa/recovery-codes/", {"GET": "login 404 404 404 404 404"}, html=True
    ),
    "accounts/2fa/recovery-codes/generate/": Rule(
        "/accounts/2fa/recovery-codes/generate/",
        {"GET": LOGIN_REQUIRED_PAGE, "POST": LOGIN_REQUIRED_PAGE},
        html=True,
    ),
    "accounts/2fa/recovery-codes/download/": Rule(
        "/accounts/2fa/recovery-codes/download/",
        {"GET": "login 404 404 404 404 404"},
        html=True,
    ),
    # --- operations console: custom views ---------------------------------------------------------------
    "admin/": Rule("/admin/", {"GET": CONSOLE}, html=True),
    # allauth's login in the console's look; logged in without console rights: 403 (a login would loop back).
    "admin/login/": Rule("/admin/login/", {"GET": "ok 403 403 ok ok ok"}, html=True),
    "admin/logout/": Rule("/admin/logout/", {"POST": PUBLIC}, html=True, isolated=True),
    "admin/password_change/": Rule("/admin/password_change/", {"GET": CONSOLE}, html=True),
    "admin/password_change/done/": Rule("/admin/password_change/done/", {"GET": CONSOLE}, html=True),
    "admin/jsi18n/": Rule("/admin/jsi18n/", {"GET": CONSOLE}, html=True),
    "admin/r/<path:content_type_id>/<path:object_id>/": Rule(
        "/admin/r/0/0/", {"GET": "login login login 404 404 404"}, html=True
    ),
    "admin/^(?P<app_label>{apps})/$": Rule("/admin/bloodbank/", {"GET": CONSOLE}, html=True),
    "admin/(?P<url>.*)$": Rule("/admin/no-such-page/", {"GET": "login login login 404 404 404"}, html=True),
    "admin/donors/donation/<path:object_id>/collect/": Rule(
        "/admin/donors/donation/{donation}/collect/",
        {"GET": CONSOLE},
        html=True,
        other={"GET": "login login login 302 302 ok"},
    ),
    "admin/imaging/analyse/": Rule("/admin/imaging/analyse/", {"GET": CONSOLE}, html=True),
    "admin/imaging/analyses/<int:analysis_id>/": Rule(
        "/admin/imaging/analyses/{analysis}/",
        {"GET": CONSOLE},
        html=True,
        other={"GET": "login login login 404 404 ok"},
    ),
    "admin/autocomplete/": Rule("/admin/autocomplete/", {"GET": "login login login 403 403 403"}, html=True),
    "admin/reports/": Rule("/admin/reports/", {"GET": CONSOLE}, html=True),
    "admin/reports/<slug:name>/": Rule("/admin/reports/blood-utilisation/", {"GET": CONSOLE}, html=True),
    # The blood network's pages (bloodbank/console.py): staff of verified hospitals (Alpha and Beta are).
    "admin/bloodbank/network/": Rule("/admin/bloodbank/network/", {"GET": CONSOLE}, html=True),
    "admin/bloodbank/network/transfers/": Rule("/admin/bloodbank/network/transfers/", {"GET": CONSOLE}, html=True),
    "admin/bloodbank/network/ask/": Rule(
        "/admin/bloodbank/network/ask/?request={request}",
        {"GET": CONSOLE},
        html=True,
        other={"GET": "login login login 404 404 ok"},
    ),
    # Receive is the other side's step for the own transfer, not yet due for the other's: a message, nothing moves.
    "admin/bloodbank/network/transfers/<int:transfer_id>/<slug:step>/": Rule(
        "/admin/bloodbank/network/transfers/{transfer}/receive/",
        {"POST": CONSOLE},
        html=True,
        other={"POST": CONSOLE},
    ),
    "admin/bloodbank/network/requests/<int:request_id>/": Rule(
        "/admin/bloodbank/network/requests/{request}/",
        {"GET": CONSOLE},
        html=True,
        other={"GET": "login login login 404 404 ok"},
    ),
    "admin/bloodbank/requests/<int:request_id>/emergency-release/": Rule(
        "/admin/bloodbank/requests/{request}/emergency-release/",
        {"GET": CONSOLE},
        html=True,
        other={"GET": "login login login 404 404 ok"},
    ),
    "admin/healthsync/user/<id>/password/": Rule(
        "/admin/healthsync/user/{staff_user}/password/",
        {"GET": "login login login 403 403 ok"},
        html=True,
        other={"GET": "login login login 403 403 ok"},
    ),
}

# Every model of the operations console: (changelist, add page) for ROLES.
SCOPED = ("login login login ok ok ok", "login login login ok ok ok")
SCOPED_READ_ONLY = ("login login login ok ok ok", "login login login 403 403 403")  # rows made by services only
PLATFORM_ONLY = ("login login login 403 403 ok", "login login login 403 403 ok")
PLATFORM_READ_ONLY = ("login login login 403 403 ok", "login login login 403 403 403")
STAFF_READ_PLATFORM_WRITE = ("login login login ok ok ok", "login login login 403 403 ok")  # shared reference rows
ADMIN_MODELS: dict[str, tuple[str, str]] = {
    "auth.group": PLATFORM_ONLY,
    "sites.site": PLATFORM_ONLY,
    "token_blacklist.outstandingtoken": PLATFORM_READ_ONLY,
    "token_blacklist.blacklistedtoken": PLATFORM_ONLY,
    "account.emailaddress": PLATFORM_ONLY,
    "mfa.authenticator": PLATFORM_ONLY,  # a platform administrator resets a lost authenticator
    "django_celery_results.taskresult": PLATFORM_READ_ONLY,  # written by the workers (healthsync.task_admin)
    "django_celery_results.groupresult": PLATFORM_READ_ONLY,
    "django_celery_beat.periodictask": PLATFORM_ONLY,
    "django_celery_beat.clockedschedule": PLATFORM_ONLY,
    "django_celery_beat.crontabschedule": PLATFORM_ONLY,
    "django_celery_beat.solarschedule": PLATFORM_ONLY,
    "django_celery_beat.intervalschedule": PLATFORM_ONLY,
    "healthsync.user": ("login login login 403 ok ok", "login login login 403 403 ok"),
    "healthsync.membership": (
        "login login login 403 ok ok",
        "login login login 403 403 403",
    ),  # staff join by invitation
    "healthsync.invitation": ("login login login 403 ok ok", "login login login 403 ok ok"),
    "healthsync.hospital": ("login login login ok ok ok", "login login login 403 403 ok"),
    "healthsync.region": STAFF_READ_PLATFORM_WRITE,
    "auditlog.logentry": PLATFORM_READ_ONLY,
    "imaging.dataset": STAFF_READ_PLATFORM_WRITE,
    "imaging.condition": STAFF_READ_PLATFORM_WRITE,
    "imaging.mlmodel": SCOPED_READ_ONLY,  # every staff role reads the registry; versions come from training
    "imaging.imageanalysis": SCOPED_READ_ONLY,
    "dicom_node.dicompeer": (
        "login login login ok ok ok",
        "login login login 403 ok ok",
    ),  # hospital administrators register peers
    "dicom_node.routingrule": ("login login login ok ok ok", "login login login 403 ok ok"),
    "dicom_node.dicomassociation": SCOPED_READ_ONLY,
    "dicom_node.receivedinstance": SCOPED_READ_ONLY,
    "dicom_node.resultdelivery": SCOPED_READ_ONLY,
    "bloodbank.bloodunit": SCOPED_READ_ONLY,
    "bloodbank.bloodrequest": SCOPED,
    "bloodbank.allocation": SCOPED_READ_ONLY,
    "bloodbank.transfer": SCOPED_READ_ONLY,
    "bloodbank.parlevel": SCOPED,
    "donors.donorprofile": SCOPED,  # the desk registers walk-in donors
    "donors.deferral": SCOPED,
    "donors.donationslot": SCOPED,
    "donors.appointment": SCOPED_READ_ONLY,
    "donors.donation": SCOPED,  # the desk opens walk-in visits
    "donors.screening": SCOPED,
    "donors.markerresult": SCOPED,
    "notifications.notification": ("login login login ok ok ok", "login login login 403 403 403"),
    "notifications.alert": PLATFORM_READ_ONLY,
    "notifications.delivery": PLATFORM_READ_ONLY,
}
ADMIN_MODEL_SUFFIXES = (
    "",
    "add/",
    "<path:object_id>/history/",
    "<path:object_id>/delete/",
    "<path:object_id>/change/",
    "<path:object_id>/",
)

# The representative sample of generated object pages: own hospital's row / another hospital's row.
ADMIN_OBJECT_PAGES = {
    "/admin/healthsync/hospital/{hospital}/change/": ("login login login ok ok ok", "login login login 302 302 ok"),
    "/admin/healthsync/hospital/{hospital}/history/": ("login login login ok ok ok", "login login login 302 302 ok"),
    "/admin/healthsync/hospital/{hospital}/delete/": ("login login login 403 403 ok", "login login login 403 403 ok"),
    "/admin/healthsync/hospital/{hospital}/": ("login login login 302 302 302", "login login login 302 302 302"),
    "/admin/bloodbank/bloodunit/{unit}/change/": ("login login login ok ok ok", "login login login 302 302 ok"),
    "/admin/bloodbank/bloodunit/{unit}/history/": ("login login login ok ok ok", "login login login 302 302 ok"),
}

WEBSOCKET_RULES = {
    "ws/system/": "4401 ok ok ok ok ok",
    "ws/alerts/": "4401 ok ok ok ok ok",
    "ws/analyses/": "4401 ok ok ok ok ok",
}


# --- walking the URL conf -----------------------------------------------------------------------------


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def admin_prefix():
    from django.conf import settings

    return settings.HEALTHSYNC_ADMIN_URL


def classify_routes():
    """(routes without a rule, admin models without a rule) of the URL conf."""
    prefix = admin_prefix()
    model_prefixes = {
        f"{prefix}{model._meta.app_label}/{model._meta.model_name}/": model._meta.label_lower
        for model in admin.site._registry
    }
    rules = {key.replace("admin/", prefix, 1) if key.startswith("admin/") else key for key in RULES}
    missing = []
    for route in walk(get_resolver().url_patterns):
        if route.startswith(("static/", "media/", "__debug__/")):
            continue
        # The app index lists the registered apps in its pattern: one rule whatever they are.
        route = re.sub(r"\(\?P<app_label>[^)]*\)", "(?P<app_label>{apps})", route)
        if route in rules:
            continue
        generated = [
            label
            for model_prefix, label in model_prefixes.items()
            if route.startswith(model_prefix) and route[len(model_prefix) :] in ADMIN_MODEL_SUFFIXES
        ]
        if generated:
            continue
        missing.append(route)
    models_missing = sorted(set(model_prefixes.values()) - set(ADMIN_MODELS))
    return missing, models_missing


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])


def test_every_route_has_a_rule():
    missing, models_missing = classify_routes()
    assert not missing, (
        "Routes with no rule in RULES (healthsync/tests/test_authorization_matrix.py):\n  " + "\n  ".join(missing)
    )
    assert not models_missing, "Admin models with no row in ADMIN_MODELS:\n  " + "\n  ".join(models_missing)
    stale = sorted(set(ADMIN_MODELS) - {model._meta.label_lower for model in admin.site._registry})
    assert not stale, f"ADMIN_MODELS rows for models the console no longer registers: {stale}"


def test_every_schema_operation_has_a_rule():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    ruled = {}
    for rule in RULES.values():
        ruled.setdefault(_normalise(rule.path), set()).update(rule.methods)
    missing = []
    for path, operations in schema["paths"].items():
        for method in operations:
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            methods = ruled.get(_normalise(path))
            # Parametrised route parts (a step, a report name, a resource type) are pinned to one value in RULES.
            if methods is None:
                pattern = re.compile("^" + re.sub(r"\\\{\\\}", "[^/]+", re.escape(_normalise(path))) + "$")
                candidates = [m for p, m in ruled.items() if pattern.match(p.replace("{}", "1"))]
                methods = set().union(*candidates) if candidates else None
            if methods is None or method.upper() not in methods:
                missing.append(f"{method.upper()} {path}")
    assert not missing, "OpenAPI operations with no rule in RULES:\n  " + "\n  ".join(missing)


def test_every_websocket_route_has_a_rule():
    from config.routing import websocket_urlpatterns as system
    from notifications.routing import websocket_urlpatterns as alerts

    routes = {str(pattern.pattern) for pattern in system + alerts}
    assert routes - set(WEBSOCKET_RULES) == set(), (
        f"WebSocket routes with no rule: {sorted(routes - set(WEBSOCKET_RULES))}"
    )


def test_a_route_without_a_rule_fails_naming_it(monkeypatch):
    """The guard itself: an unruled endpoint is reported by its route."""
    monkeypatch.delitem(RULES, "api/me")
    missing, _ = classify_routes()
    assert missing == ["api/me"]


# --- the world the requests run in ------------------------------------------------------------------


def _at(days: int, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=days), time(hour)))


@pytest.fixture
def world(settings, tmp_path, hospital_a, hospital_b, alice, bob, carol, dave, root):
    """Objects at Alpha ("own") and Beta ("other"), and one user per role."""
    settings.MEDIA_ROOT = str(tmp_path)
    (tmp_path / "matrix").mkdir()
    from PIL import Image

    Image.new("L", (28, 28), 128).save(tmp_path / "matrix" / "study.png")
    # Fast hashing for the accounts made here; the fixtures' users keep their Argon2 hashes.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
    ]
    from bloodbank import services as bloodbank
    from donors import services as donors
    from imaging.models import ImageAnalysis, MLModel
    from notifications.models import Alert, Notification

    def donor(email, group="O-"):
        return donors.donor_register(
            name=email.split("@")[0].title(),
            email=email,
            password=PASSWORD,
            blood_group=group,
            date_of_birth=date(1988, 4, 4),
            address="1 Test Street",
            contact_number="+44 7700 900123",
            sex="male",
            weight_kg=80,
        )

    donor_user_profile = donor("dora@donor.example")
    other_donor_profile = donor("otto@donor.example", "A+")
    make_user("grantee@example.com")

    def objects(hospital, staff, visitor, deferred):
        unit = bloodbank.unit_create(
            hospital=hospital, component="red_cells", blood_group="O-", by=staff, status="available"
        )
        bloodbank.unit_create(hospital=hospital, component="red_cells", blood_group="O-", by=staff, status="available")
        request = bloodbank.request_create(hospital=hospital, blood_group="O-", units=1, urgency=2, by=staff)
        fulfilled = bloodbank.request_create(hospital=hospital, blood_group="O-", units=1, urgency=2, by=staff)
        allocation = bloodbank.request_fulfil(request=fulfilled, by=staff)[0]
        partner = hospital_b if hospital == hospital_a else hospital_a
        transfer = bloodbank.transfer_request(
            from_hospital=hospital,
            to_hospital=partner,
            component="red_cells",
            blood_group="O-",
            units_requested=1,
            by=staff,
        )
        slot = donors.slot_create(hospital=hospital, starts_at=_at(2, 10), ends_at=_at(2, 13), capacity=3, by=staff)
        appointment = donors.appointment_book(donor=visitor, slot=slot)
        donation = donors.donation_register_walk_in(donor=deferred, hospital=hospital)
        deferral = donors.deferral_create(
            donor=deferred,
            reason="Travel",
            starts_on=timezone.localdate(),
            ends_on=timezone.localdate() + timedelta(days=30),
            hospital=hospital,
            by=staff,
        )
        model = (
            MLModel.objects.filter(name="pneumoniamnist-basic_cnn").order_by("version").first()
            or MLModel.objects.first()
        )
        analysis = ImageAnalysis.objects.create(
            hospital=hospital,
            requested_by=staff,
            batch=uuid.uuid4(),
            dataset="pneumoniamnist",
            model=model,
            image="matrix/study.png",
            image_kind="png",
        )
        victim = make_user(f"victim-{hospital.pk}@example.com", hospital=hospital, role=Role.MEDICAL_STAFF)
        invitation = Invitation.objects.create(
            hospital=hospital,
            email=f"invited-{hospital.pk}@example.com",
            role=Role.MEDICAL_STAFF,
            token_digest=uuid.uuid4().hex,
            expires_at=timezone.now() + timedelta(days=7),
        )
        return {
            "invitation": invitation.pk,
            "hospital": hospital.pk,
            "unit": unit.pk,
            "request": request.pk,
            "allocation": allocation.pk,
            "transfer": transfer.pk,
            "slot": slot.pk,
            "appointment": appointment.pk,
            "donation": donation.pk,
            "donor": deferred.pk,
            "deferral": deferral.pk,
            "analysis": analysis.pk,
            "membership": Membership.objects.get(user=victim, hospital=hospital).pk,
            "staff_user": victim.pk,
        }

    own = objects(hospital_a, bob, donor_user_profile, donor("walkin-a@donor.example"))
    other = objects(hospital_b, carol, other_donor_profile, donor("walkin-b@donor.example"))
    from dicom_node.tests.records import analysed_study

    for hospital, found in ((hospital_a, own), (hospital_b, other)):  # a study with its report (DICOMweb)
        found.update({key: value for key, value in analysed_study(hospital).items() if key.startswith("dicom_")})
    # Appointments of the donor role's own and of another donor (both at Alpha's and Beta's slots).
    own["own_appointment"] = own["appointment"]
    other["own_appointment"] = other["appointment"]

    users = {
        "anon": None,
        "donor": donor_user_profile.user,
        "norole": dave,
        "staff": bob,
        "hadmin": alice,
        "platform": root,
    }
    alert = Alert.objects.create(kind="shortage", title="Matrix", body="Matrix", event_key=f"matrix-{uuid.uuid4()}")
    notifications = {
        role: Notification.objects.create(alert=alert, recipient=user).pk for role, user in users.items() if user
    }
    stranger = make_user("stranger@example.com")
    other_notification = Notification.objects.create(alert=alert, recipient=stranger).pk
    own["own_notification"] = notifications
    other["own_notification"] = other_notification
    return {"users": users, "own": own, "other": other}


def _objects_for(role, objects):
    return {key: (value.get(role, 0) if isinstance(value, dict) else value) for key, value in objects.items()}


def _fill(template, objects):
    if isinstance(template, str):
        return template.format(**objects)
    if isinstance(template, dict):
        return {key: _fill(value, objects) for key, value in template.items()}
    return template


def _api_client(user):
    client = APIClient()
    if user is not None:
        response = client.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def _web_client(user):
    client = Client()
    if user is not None:
        user.refresh_from_db()  # the JWT login may have re-hashed the password, which changes the session hash
        client.force_login(user)
    return client


def _matches(expected: str, response) -> bool:
    code = response.status_code
    location = response.get("Location", "") if 300 <= code < 400 else ""
    to_login = "/login/" in location
    if expected == "ok":
        return 200 <= code < 300 or (300 <= code < 400 and not to_login)
    if expected == "pass":
        return code not in (401, 403) and code < 500
    if expected == "login":
        return 300 <= code < 400 and to_login
    return code == int(expected)


def _request(client, method, path, body, html):
    if html:
        return getattr(client, method.lower())(path, body or {})
    return getattr(client, method.lower())(path, body if body is not None else {}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix(role, world):
    index = ROLES.index(role)
    user = world["users"][role]
    api, web = _api_client(user), _web_client(user)
    own, other = _objects_for(role, world["own"]), _objects_for(role, world["other"])
    failures = []

    def check(label, method, path, expected, body, html, isolated=False):
        client = web if html else api
        if isolated:
            client = _web_client(user) if html else _api_client(user)
        response = _request(client, method, path, body, html)
        if response.status_code >= 500 or not _matches(expected, response):
            detail = response.get("Location", "") or response.content[:300].decode(errors="replace")
            failures.append(
                f"{role:8} {method:6} {path}  [{label}] expected {expected}, got {response.status_code} {detail}"
            )

    # Destructive operations run last so that they do not hide objects from the other checks.
    order = {"GET": 0, "PATCH": 1, "PUT": 1, "POST": 2, "DELETE": 3}
    plan = []
    for route, rule in RULES.items():
        for method, expectations in rule.methods.items():
            plan.append((order[method], route, rule, method, expectations.split()[index], own, rule.body, "own"))
        for method, expectations in rule.other.items():
            plan.append(
                (
                    order[method],
                    route,
                    rule,
                    method,
                    expectations.split()[index],
                    other,
                    rule.other_body or rule.body,
                    "other hospital",
                )
            )
    for _, route, rule, method, expected, objects, body, label in sorted(plan, key=lambda item: item[0]):
        check(
            f"{label}: {route}",
            method,
            _fill(rule.path, objects).replace("/admin/", f"/{admin_prefix()}", 1),
            expected,
            _fill(body, objects),
            rule.html,
            rule.isolated,
        )

    prefix = admin_prefix()
    for model, (changelist, add) in ADMIN_MODELS.items():
        app_label, model_name = model.split(".")
        check(
            f"admin changelist {model}",
            "GET",
            f"/{prefix}{app_label}/{model_name}/",
            changelist.split()[index],
            None,
            True,
        )
        check(f"admin add {model}", "GET", f"/{prefix}{app_label}/{model_name}/add/", add.split()[index], None, True)
    for template, (mine, theirs) in ADMIN_OBJECT_PAGES.items():
        path = template.replace("/admin/", f"/{prefix}", 1)
        check("admin own object", "GET", path.format(**own), mine.split()[index], None, True)
        check("admin other hospital's object", "GET", path.format(**other), theirs.split()[index], None, True)

    assert not failures, f"{len(failures)} authorisation mismatches:\n" + "\n".join(failures)


# --- WebSockets ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("role", ROLES)
async def test_websocket_matrix(role, settings):
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from rest_framework_simplejwt.tokens import AccessToken

    from config.asgi import application

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    def make():
        from donors import services as donors
        from healthsync import services

        hospital = services.hospital_create(name="Socket General", is_verified=True)
        if role == "anon":
            return None
        if role == "donor":
            return donors.donor_register(
                name="Sid",
                email="sid@donor.example",
                password=PASSWORD,
                blood_group="O+",
                date_of_birth=date(1990, 1, 1),
                address="1 Test Street",
                contact_number="+44 7700 900124",
                sex="male",
                weight_kg=80,
            ).user
        if role == "platform":
            from healthsync.models import User

            return User.objects.create_superuser(email="sockroot@example.com", password=PASSWORD, name="Root")
        roles = {"norole": None, "staff": Role.MEDICAL_STAFF, "hadmin": Role.HOSPITAL_ADMIN}
        return make_user(f"sock-{role}@example.com", hospital=hospital if roles[role] else None, role=roles[role])

    user = await sync_to_async(make)()
    token = str(AccessToken.for_user(user)) if user is not None else ""
    index = ROLES.index(role)
    for route, expectations in WEBSOCKET_RULES.items():
        expected = expectations.split()[index]
        path = f"/{route}" + (f"?token={token}" if token else "")
        communicator = WebsocketCommunicator(application, path)
        connected, code = await communicator.connect(timeout=5)
        if expected == "ok":
            assert connected, f"{role} refused on /{route} (code {code})"
            await communicator.disconnect()
        else:
            assert not connected and code == int(expected), (
                f"{role} on /{route}: connected={connected} code={code}, expected {expected}"
            )
