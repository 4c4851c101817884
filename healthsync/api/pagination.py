from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """Lists answer ``{"count", "next", "previous", "results"}``."""

    page_size_query_param = "page_size"
    max_page_size = 500
