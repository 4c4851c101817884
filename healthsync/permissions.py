"""The one permission mechanism of HealthSync.

Object permissions (django-guardian) are granted on ``Hospital`` rows, one set
per staff role; every record a hospital owns (units, requests, analyses...)
is reached through its hospital. So a single helper, ``scope_to_hospitals``,
scopes any queryset to what a user may see, and ``can`` answers for one
object. The API, the admin, the pages and the WebSocket consumers all use
these functions. Deny by default: a user with no membership sees nothing;
platform administrators (superusers) see everything.

Within one request (``PermissionMemoMiddleware``) a user's hospitals are looked up once per
permission: a staff API call asks "staff anywhere?", "acting for which hospital?" and "may act on
this object?", and guardian's lookup costs a few milliseconds each time.
"""

import functools
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import QuerySet
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm
from rest_framework import permissions as drf_permissions

from .models import Hospital, Role

ACT = "healthsync.act_for_hospital"
VIEW = "healthsync.view_hospital"
CHANGE = "healthsync.change_hospital"
MANAGE_STAFF = "healthsync.manage_staff"

ROLE_PERMISSIONS = {
    Role.HOSPITAL_ADMIN: (VIEW, CHANGE, ACT, MANAGE_STAFF),
    Role.MEDICAL_STAFF: (VIEW, ACT),
}
ALL_HOSPITAL_PERMISSIONS = (VIEW, CHANGE, ACT, MANAGE_STAFF)


_memo: ContextVar[dict | None] = ContextVar("hospital_permission_memo", default=None)


@contextmanager
def memoised():
    """Within the block, each user's hospitals per permission are looked up once."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


class PermissionMemoMiddleware:
    """One permission lookup per user and permission per request (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with memoised():
            return self.get_response(request)


def _hospital_ids(user, perm: str) -> frozenset:
    """The hospitals guardian's ``get_objects_for_user`` would select (object permissions granted
    to the user or one of their groups; every hospital for a superuser), read straight from its
    tables in one plain statement. Every staff request asks this: guardian's queryset cost about
    4 ms (building it, compiling the ORM union, and planning its five joins), this about 0.3 ms."""
    if user.is_superuser:
        return frozenset(Hospital.objects.values_list("pk", flat=True))
    app_label, codename = perm.split(".", 1)
    hospital_type = ContentType.objects.get_for_model(Hospital)  # cached by Django
    if app_label != hospital_type.app_label:
        return frozenset()
    with connection.cursor() as cursor:
        cursor.execute(_granted_sql(), [user.pk, hospital_type.pk, codename] * 2)
        return frozenset(int(pk) for (pk,) in cursor.fetchall())


@functools.cache
def _granted_sql() -> str:
    """Guardian grants a permission on an object with the permission of the object's own content
    type (``assign_perm``), so matching the codename on that content type matches guardian."""
    from django.contrib.auth.models import Permission

    from .models import User

    quote = connection.ops.quote_name
    permission, direct, via_group = (quote(m._meta.db_table) for m in (Permission, UserObjectPermission, GroupObjectPermission))
    membership = User.groups.through._meta
    member_table, member_user, member_group = (quote(membership.db_table), quote(membership.get_field("user").column),
                                               quote(membership.get_field("group").column))
    matching = "granted.content_type_id = %s AND p.content_type_id = granted.content_type_id AND p.codename = %s"
    # Only quoted table and column names from the models go into the text; every value is a parameter.
    return (f"SELECT granted.object_pk FROM {direct} granted JOIN {permission} p ON p.id = granted.permission_id "  # nosec B608
            f"WHERE granted.user_id = %s AND {matching} UNION "
            f"SELECT granted.object_pk FROM {via_group} granted JOIN {permission} p ON p.id = granted.permission_id "
            f"JOIN {member_table} member ON member.{member_group} = granted.group_id WHERE member.{member_user} = %s AND {matching}")


def _ids(user, perm: str) -> frozenset:
    """``user``'s hospital ids for ``perm``: once per request (this request's memo), else looked up."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    memo = _memo.get()
    if memo is None:
        return _hospital_ids(user, perm)
    key = (user.pk, perm)
    if key not in memo:
        memo[key] = _hospital_ids(user, perm)
    return memo[key]


def hospitals_for(user, perm: str = ACT) -> QuerySet:
    """The hospitals on which ``user`` holds ``perm`` (all of them for a platform administrator)."""
    return Hospital.objects.filter(pk__in=_ids(user, perm))


def scope_to_hospitals(queryset: QuerySet, user, *, perm: str = ACT, via: str = "hospital") -> QuerySet:
    """Limit ``queryset`` to rows whose hospital (reached by the lookup ``via``) ``user`` holds ``perm`` on.

    ``via`` is the lookup path from the row to its hospital, e.g. ``"hospital"``,
    ``"unit__hospital"``, or ``"pk"`` for a queryset of hospitals.
    """
    if getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser:
        return queryset
    return queryset.filter(**{f"{via}__in": hospitals_for(user, perm)})


def can(user, perm: str, hospital: Hospital | None) -> bool:
    """Whether ``user`` holds ``perm`` on ``hospital``."""
    if hospital is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or hospital.pk in _ids(user, perm)


def can_anywhere(user, perm: str = ACT) -> bool:
    """Whether ``user`` holds ``perm`` on at least one hospital."""
    return bool(_ids(user, perm))


def acting_hospital(user, hospital_id=None, *, perm: str = ACT) -> Hospital:
    """The hospital a staff request acts for: the one named (which must be the user's), or the user's only one."""
    from .errors import DomainError, Forbidden

    hospitals = hospitals_for(user, perm)
    if hospital_id not in (None, ""):
        try:
            return hospitals.get(pk=int(hospital_id))
        except (Hospital.DoesNotExist, TypeError, ValueError):
            from django.http import Http404

            raise Http404("No such hospital among yours.") from None
    mine = list(hospitals[:2])
    if not mine:
        raise Forbidden("This is for hospital staff.", code="not_hospital_staff")
    if len(mine) > 1:
        raise DomainError("You work for several hospitals: name one with the hospital parameter.", fields={"hospital": ["Required."]})
    return mine[0]


def sync_hospital_permissions(*, user, hospital: Hospital, role: str | None) -> None:
    """Make ``user``'s object permissions on ``hospital`` exactly those of ``role`` (none when ``role`` is None)."""
    wanted = set(ROLE_PERMISSIONS.get(role, ()))
    memo = _memo.get()
    if memo:  # this request's answers no longer hold
        memo.clear()
    for perm in ALL_HOSPITAL_PERMISSIONS:
        if perm in wanted:
            assign_perm(perm, user, hospital)
        else:
            remove_perm(perm, user, hospital)


class ApiDocsAccess(drf_permissions.BasePermission):
    """The OpenAPI schema and its Swagger UI: public while ``HEALTHSYNC_PUBLIC_API_DOCS`` is on (the
    embedded/debug default), else for logged-in accounts only (production: the API's map is no
    help to give anonymous scanners)."""

    def has_permission(self, request, view):
        return settings.HEALTHSYNC_PUBLIC_API_DOCS or bool(request.user and request.user.is_authenticated)


class IsHospitalStaff(drf_permissions.BasePermission):
    """Staff endpoints: a platform administrator or a member of at least one hospital (donors get 403)."""

    message = "This is for hospital staff."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or can_anywhere(user)))


class HospitalObjectPermission(drf_permissions.BasePermission):
    """DRF permission: the user must hold ``required_perm`` (a view attribute, default ACT)
    on the hospital of the object (the view's ``hospital_of(obj)``).

    Reads that reach an object outside the user's hospitals have already given
    404 through the scoped queryset; this guards the writes.
    """

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        perm = getattr(view, "required_perm", ACT)
        if request.method in drf_permissions.SAFE_METHODS:
            perm = getattr(view, "read_perm", perm)
        return can(request.user, perm, view.hospital_of(obj))
