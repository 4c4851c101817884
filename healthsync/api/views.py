"""Core API: accounts and JWT, hospitals, staff memberships, system checks."""

import time

from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView

from .. import invitations, services
from ..errors import Forbidden
from ..models import Hospital, Invitation, Membership, User
from ..permissions import (
    CHANGE,
    MANAGE_STAFF,
    VIEW,
    HospitalObjectPermission,
    can_anywhere,
    hospitals_for,
    scope_to_hospitals,
)
from ..regions import region_find
from ..registration import CHECK_YOUR_EMAIL, check_email_confirmed, register_quietly, verification_required
from ..security import (
    SECOND_FACTOR_REQUIRED,
    account_authenticate,
    has_second_factor,
    second_factor_missing,
    verify_second_factor,
)
from .serializers import (
    HospitalSerializer,
    InvitationSerializer,
    MembershipSerializer,
    RegisterSerializer,
    UserSerializer,
)
from .throttling import ClientScopedRateThrottle


class LoginTokenSerializer(TokenObtainPairSerializer):
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=64,
        help_text=(
            "For accounts with two-factor authentication: the authenticator app's code, or an unused recovery code."
        ),
    )

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        # When the password was given: access tokens refreshed from this one keep it, so
        # sensitive actions can ask for a recent login (healthsync.security.require_recent_login).
        token["auth_time"] = int(time.time())
        return token

    def validate(self, attrs):
        # The password, under the failed-login limits every login shares (429 while the account is locked).
        self.user = account_authenticate(
            request=self.context["request"]._request, email=attrs[self.username_field], password=attrs["password"]
        )
        if self.user is None:
            raise AuthenticationFailed(self.error_messages["no_active_account"], code="no_active_account")
        check_email_confirmed(self.user)
        # The second factor before any token exists, so a password alone never gets one.
        if has_second_factor(self.user):
            otp = attrs.get("otp", "").strip()
            if not otp:
                raise AuthenticationFailed(
                    "This account uses two-factor authentication: send the code from its authenticator app "
                    "(or an unused recovery code) as otp, with the email and password.",
                    code="otp_required",
                )
            try:
                verify_second_factor(user=self.user, code=otp)
            except ValidationError as exc:
                raise AuthenticationFailed(f"Two-factor code refused: {exc.messages[0]}", code="otp_invalid") from exc
        if second_factor_missing(self.user):
            raise PermissionDenied(SECOND_FACTOR_REQUIRED, code="second_factor_required")
        refresh = self.get_token(self.user)
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, self.user)
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


class LoginView(TokenObtainPairView):
    """`{email, password}` gives `{access, refresh}`; accounts with two-factor authentication add
    `otp` (else 401 `otp_required`, or `otp_invalid` for a wrong or reused code). Rate limited per
    client address; failed logins are limited per account as well, shared with the web login (429
    `too_many_login_attempts` while the account is locked, even with the right password)."""

    serializer_class = LoginTokenSerializer
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "login"


def role_login_view(*, name: str, allowed, refusal: str, doc: str) -> type[LoginView]:
    """A login for one kind of account (``name``: "Staff", "Donor"): ``allowed(user)`` decides,
    ``refusal`` is the 403 message."""

    def validate(self, attrs):
        data = LoginTokenSerializer.validate(self, attrs)
        if not allowed(self.user):
            raise PermissionDenied(refusal)
        return data

    serializer = type(f"{name}TokenSerializer", (LoginTokenSerializer,), {"validate": validate})
    return type(f"{name}LoginView", (LoginView,), {"serializer_class": serializer, "__doc__": doc})


class RegistrationView(APIView):
    """Base of the public registration endpoints: anyone may call them, at a limited rate."""

    permission_classes = [AllowAny]
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "register"

    def registered(self, request, *, email: str, create, respond) -> Response:
        """Run ``create`` (the registration service) and answer ``respond(result)``; with mandatory email
        verification, answer 202 "check your email" instead, the same whether or not ``email`` has an
        account (``healthsync.registration``)."""
        if not verification_required():
            return respond(create())
        register_quietly(request._request, email=email, create=create)
        return Response({"detail": CHECK_YOUR_EMAIL}, status=status.HTTP_202_ACCEPTED)


class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, which also refuses a token issued before its user's password changed
    (simplejwt checks ``CHECK_REVOKE_TOKEN``'s claim on access tokens only) or whose user is gone."""

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, blacklist: 401 when invalid
        user = User.objects.filter(pk=refresh.payload.get(jwt_settings.USER_ID_CLAIM)).first()
        if user is None:
            raise AuthenticationFailed(self.error_messages["no_active_account"], code="no_active_account")
        if refresh.payload.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                "The account's password changed after this token was issued: log in again.", code="password_changed"
            )
        if second_factor_missing(user):  # the policy came in after this token was issued
            raise PermissionDenied(SECOND_FACTOR_REQUIRED, code="second_factor_required")
        return super().validate(attrs)


class RefreshView(TokenRefreshView):
    """`{refresh}` gives `{access}`; a blacklisted refresh token, or one issued before the account's
    password changed or its second factor was turned on, gives 401; a staff account without the
    second factor that ``HEALTHSYNC_STAFF_SECOND_FACTOR`` requires gives 403."""

    serializer_class = RefreshSerializer


class LogoutView(TokenBlacklistView):
    """`{refresh}`: the refresh token is blacklisted and can no longer be used."""


class RegisterView(RegistrationView):
    """Create an account with no staff rights; a hospital or platform administrator grants roles."""

    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer, 202: OpenApiTypes.OBJECT})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.registered(
            request,
            email=serializer.validated_data["email"],
            create=lambda: services.user_register(**serializer.validated_data),
            respond=lambda user: Response(UserSerializer(user).data, status=status.HTTP_201_CREATED),
        )


@extend_schema(responses=UserSerializer)
@api_view(["GET"])
def me(request):
    """The logged-in account with its roles and memberships."""
    return Response(UserSerializer(request.user).data)


class HospitalViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Hospitals the user belongs to (every hospital for platform administrators)."""

    serializer_class = HospitalSerializer
    permission_classes = [HospitalObjectPermission]
    read_perm = VIEW
    required_perm = CHANGE
    filterset_fields = ["is_verified"]

    @extend_schema(parameters=[OpenApiParameter("region", str, description="The region's code or name (any case).")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        hospitals = scope_to_hospitals(
            Hospital.objects.select_related("region"), self.request.user, perm=VIEW, via="pk"
        )
        if self.action == "list" and self.request.query_params.get("region"):
            hospitals = hospitals.filter(region=region_find(self.request.query_params["region"]))
        return hospitals

    @staticmethod
    def hospital_of(hospital):
        return hospital

    def perform_update(self, serializer):
        """Through ``services.hospital_update``: the name stays unique, and renaming a verified hospital
        withdraws its verification."""
        serializer.instance = services.hospital_update(
            hospital=serializer.instance, by=self.request.user, **serializer.validated_data
        )

    @extend_schema(request=HospitalSerializer, responses={201: HospitalSerializer})
    def create(self, request):
        """Platform administrators register hospitals here; hospitals register themselves through the blood bank API."""
        if not request.user.is_platform_admin:
            raise Forbidden("Only a platform administrator can create hospitals here.")
        serializer = HospitalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        hospital = services.hospital_create(**serializer.validated_data)
        return Response(HospitalSerializer(hospital).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=HospitalSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None, **kwargs):
        hospital = self.get_object()
        services.hospital_verify(hospital=hospital, by=request.user)
        return Response(HospitalSerializer(hospital).data)


class StaffViewSet(viewsets.GenericViewSet):
    """Base of the staff endpoints: rows of the hospitals the user manages."""

    permission_classes = [HospitalObjectPermission]
    read_perm = MANAGE_STAFF
    required_perm = MANAGE_STAFF
    filterset_fields = ["hospital", "role"]

    @staticmethod
    def hospital_of(row):
        return row.hospital

    def managed_input(self, request, serializer_class) -> tuple[Hospital, dict]:
        """The validated body and its hospital, one the user manages (else 404)."""
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return get_object_or_404(hospitals_for(request.user, MANAGE_STAFF), pk=data["hospital"].pk), data

    def invite(self, request, hospital: Hospital, data: dict, *, status_code: int) -> Response:
        invitation = invitations.invitation_send(
            hospital=hospital,
            email=data["email"],
            role=data["role"],
            by=request.user,
            site=request.build_absolute_uri("/"),
        )
        return Response(InvitationSerializer(invitation).data, status=status_code)


class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, StaffViewSet):
    """Staff roles at the hospitals the user manages."""

    serializer_class = MembershipSerializer

    def get_queryset(self):
        queryset = Membership.objects.select_related("user", "hospital")
        return scope_to_hospitals(queryset, self.request.user, perm=MANAGE_STAFF)

    @extend_schema(responses={200: MembershipSerializer, 202: InvitationSerializer})
    def create(self, request):
        """Change the role of someone on the hospital's staff (200); anyone else, account or not, is sent an
        invitation to accept (202, the same answer either way): nobody joins a hospital without accepting."""
        hospital, data = self.managed_input(request, MembershipSerializer)
        membership = (
            Membership.objects.filter(hospital=hospital, user__email__iexact=data["email"])
            .select_related("user")
            .first()
        )
        if membership is None:
            return self.invite(request, hospital, data, status_code=status.HTTP_202_ACCEPTED)
        membership = services.membership_grant(
            hospital=hospital, user=membership.user, role=data["role"], by=request.user
        )
        return Response(MembershipSerializer(membership).data)

    def perform_destroy(self, membership):
        services.membership_revoke(membership=membership, by=self.request.user)


class InvitationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, StaffViewSet
):
    """Invitations to the staff of the hospitals the user manages: send (the person accepts through the
    emailed link), list with their status, withdraw (DELETE; the link stops working)."""

    serializer_class = InvitationSerializer

    def get_queryset(self):
        return scope_to_hospitals(
            Invitation.objects.select_related("hospital", "invited_by"), self.request.user, perm=MANAGE_STAFF
        )

    def create(self, request):
        hospital, data = self.managed_input(request, InvitationSerializer)
        return self.invite(request, hospital, data, status_code=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None, **kwargs):
        invitations.invitation_withdraw(invitation=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    request=None,
    responses={202: inline_serializer("WorkerCheck", {"task_id": serializers.CharField()})},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def worker_check(request):
    """Send a check through the task queue: a worker answers on the user's `/ws/system/` socket."""
    if not (request.user.is_platform_admin or can_anywhere(request.user)):
        raise Forbidden("Only hospital staff can run a worker check.")
    from ..tasks import worker_check as worker_check_task

    result = worker_check_task.delay(user_id=request.user.pk)
    return Response({"task_id": result.id}, status=status.HTTP_202_ACCEPTED)
