"""What the blood bank's endpoints share: a checked body, the refusal of the network to an unverified
hospital, the user's own request."""

from django.shortcuts import get_object_or_404

from healthsync.errors import Forbidden
from healthsync.permissions import scope_to_hospitals

from ..models import BloodRequest


def _input(serializer_class, request) -> dict:
    """The request's body, checked by ``serializer_class`` (400 in the error shape when it fails)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _not_in_network() -> Forbidden:
    """The network (other hospitals' stock, totals across it) is seen by its members only: verified hospitals."""
    return Forbidden(
        "Your hospital joins the network once a platform administrator has verified it.", code="hospital_not_verified"
    )


def _own_request(request, request_id) -> BloodRequest:
    return get_object_or_404(scope_to_hospitals(BloodRequest.objects.all(), request.user), pk=request_id)
