"""DICOMweb (PS3.18), under /dicomweb/ (config/urls.py)."""

from django.urls import path

from . import api

STUDY = "studies/<str:study>"
SERIES = f"{STUDY}/series/<str:series>"
INSTANCE = f"{SERIES}/instances/<str:instance>"

urlpatterns = [
    path("studies", api.Studies.as_view(), name="dicomweb-studies"),
    path(STUDY, api.Study.as_view(), name="dicomweb-study"),
    path(f"{STUDY}/metadata", api.study_metadata, name="dicomweb-study-metadata"),
    path(f"{STUDY}/series", api.series_search, name="dicomweb-series"),
    path(SERIES, api.series_retrieve, name="dicomweb-series-retrieve"),
    path(f"{SERIES}/metadata", api.series_metadata, name="dicomweb-series-metadata"),
    path(f"{SERIES}/instances", api.instance_search, name="dicomweb-instances"),
    path(INSTANCE, api.instance_retrieve, name="dicomweb-instance"),
    path(f"{INSTANCE}/metadata", api.instance_metadata, name="dicomweb-instance-metadata"),
]
