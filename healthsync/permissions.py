"""The one permission mechanism of HealthSync.

Permissions are object permissions on ``Hospital`` rows, and they are derived from one truth: the
user's ``Membership`` rows (one role per hospital) and ``ROLE_PERMISSIONS`` below (what each role
may do there). Platform administrators (superusers) hold every permission on every hospital.
Every record a hospital owns (units, requests, analyses...) is reached through its hospital, so a
single helper, ``scope_to_hospitals``, scopes any queryset to what a user may see, and ``can``
answers for one object. The API, the admin, the pages and the WebSocket consumers all use these
functions; ``MembershipPermissionBackend`` answers Django's ``user.has_perm(perm, hospital)`` from
them too. Deny by default: a user with no membership sees nothing. Nothing is copied anywhere, so a
role granted, changed or revoked (``healthsync.services``) holds at once.

One cache: within a request (``PermissionMemoMiddleware``, or ``memoised()`` elsewhere) a user's
grants are read once, in one query, whatever permissions and objects are then asked about: a staff
API call asks "staff anywhere?", "acting for which hospital?" and "may act on this object?", and the
console asks "may see this model?" for every model on every page.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db.models import QuerySet
from rest_framework import permissions as drf_permissions

from .models import Hospital, Membership, Role

ACT = "healthsync.act_for_hospital"
VIEW = "healthsync.view_hospital"
CHANGE = "healthsync.change_hospital"
MANAGE_STAFF = "healthsync.manage_staff"

ROLE_PERMISSIONS = {
    Role.HOSPITAL_ADMIN: (VIEW, CHANGE, ACT, MANAGE_STAFF),
    Role.MEDICAL_STAFF: (VIEW, ACT),
}
ALL_HOSPITAL_PERMISSIONS = (VIEW, CHANGE, ACT, MANAGE_STAFF)
_EVERY = frozenset(ALL_HOSPITAL_PERMISSIONS)
_BY_ROLE: dict[str, frozenset[str]] = {role: frozenset(perms) for role, perms in ROLE_PERMISSIONS.items()}


_memo: ContextVar[dict | None] = ContextVar("hospital_permission_memo", default=None)


@contextmanager
def memoised():
    """Within the block, each user's grants are read once."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


class PermissionMemoMiddleware:
    """One read of the user's grants per request (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with memoised():
            return self.get_response(request)


def forget(user_id: int) -> None:
    """``user_id``'s roles changed: this request's answers about them no longer hold."""
    memo = _memo.get()
    if memo is not None:
        memo.pop(user_id, None)


def _read_grants(user) -> dict[int, frozenset]:
    """Hospital id → the permissions ``user`` holds there: every one on every hospital for a platform
    administrator, else those of their role at each hospital they are a member of."""
    if user.is_superuser:
        return dict.fromkeys(Hospital.objects.values_list("pk", flat=True), _EVERY)
    # Unordered: the model's default order would join the hospital and user tables, doubling the cost.
    memberships = Membership.objects.filter(user_id=user.pk).order_by().values_list("hospital_id", "role")
    return {hospital_id: _BY_ROLE.get(role, frozenset()) for hospital_id, role in memberships}


def _grants(user) -> dict[int, frozenset]:
    """``user``'s grants: once per request (this request's memo), else read now. Nothing for an
    anonymous or deactivated account."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    memo = _memo.get()
    if memo is None:
        return _read_grants(user)
    if user.pk not in memo:
        memo[user.pk] = _read_grants(user)
    return memo[user.pk]


def _ids(user, perm: str) -> list[int]:
    """The ids of the hospitals on which ``user`` holds ``perm``."""
    return [pk for pk, perms in _grants(user).items() if perm in perms]


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
    return queryset.filter(**{f"{via}__in": _ids(user, perm)})


def can(user, perm: str, hospital: Hospital | None) -> bool:
    """Whether ``user`` holds ``perm`` on ``hospital``."""
    if hospital is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or perm in _grants(user).get(hospital.pk, ())


def can_anywhere(user, perm: str = ACT) -> bool:
    """Whether ``user`` holds ``perm`` on at least one hospital; always for a platform administrator."""
    if getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser:
        return True
    return any(perm in perms for perms in _grants(user).values())


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
        raise DomainError(
            "You work for several hospitals: name one with the hospital parameter.", fields={"hospital": ["Required."]}
        )
    return mine[0]


class MembershipPermissionBackend:
    """Django's ``user.has_perm(perm, hospital)``, answered by ``can`` (``AUTHENTICATION_BACKENDS``).
    It authenticates no one, and grants nothing without a hospital."""

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        return isinstance(obj, Hospital) and can(user_obj, perm, obj)


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
