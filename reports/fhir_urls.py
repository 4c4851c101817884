from django.urls import path

from . import fhir_views

urlpatterns = [
    path("<str:resource_type>", fhir_views.search, name="fhir-search"),
    path("<str:resource_type>/<int:resource_id>", fhir_views.read, name="fhir-read"),
]
