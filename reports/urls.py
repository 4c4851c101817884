from django.urls import path

from . import api

urlpatterns = [
    path("reports/units.csv", api.units_export, name="report-units-export"),
    path("reports/<slug:name>", api.report, name="report"),
]
