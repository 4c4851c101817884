"""Who reaches the donor API's staff endpoints, and their paginated lists."""

from rest_framework.decorators import api_view, permission_classes

from healthsync.api.pagination import StandardPagination
from healthsync.permissions import IsHospitalStaff


def staff_api(methods):
    """A staff endpoint: authenticated hospital staff only; rows then come through scope_to_hospitals."""

    def wrap(view):
        return api_view(methods)(permission_classes([IsHospitalStaff])(view))

    return wrap


def _paginated(request, queryset, serializer_class):
    paginator = StandardPagination()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
