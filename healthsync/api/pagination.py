from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """Lists answer ``{"count", "next", "previous", "results"}``."""

    page_size_query_param = "page_size"
    max_page_size = 500


_paginated_schemas: dict[str, object] = {}


def paginated(serializer_class):
    """The OpenAPI shape of a paginated list of ``serializer_class`` (for views that paginate by hand)."""
    from drf_spectacular.utils import inline_serializer
    from rest_framework import serializers

    name = f"Paginated{serializer_class.__name__.removesuffix('Serializer')}List"
    if name not in _paginated_schemas:
        _paginated_schemas[name] = inline_serializer(
            name,
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializer_class(many=True),
            },
        )
    return _paginated_schemas[name]
