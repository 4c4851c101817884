from django.urls import path

from . import api

urlpatterns = [
    # The seed's paths, kept for compatibility.
    path("hospital/register", api.HospitalRegisterView.as_view(), name="hospital-register"),
    path("hospital/login", api.HospitalLoginView.as_view(), name="hospital-login"),
    path("hospital/inventory", api.inventory, name="hospital-inventory"),
    path("hospital/inventory/add", api.inventory_add, name="hospital-inventory-add"),
    path("hospital/request", api.request_create, name="hospital-request"),
    path("hospital/request/fulfill/<int:request_id>", api.request_fulfil, name="hospital-request-fulfil"),
    path("hospital/requests", api.RequestList.as_view(), name="hospital-requests"),
    path("hospitals", api.public_hospitals, name="public-hospitals"),
    path("blood-types", api.blood_types, name="blood-types"),
    # Richer endpoints.
    path("units/", api.UnitList.as_view(), name="units"),
    path("units/<int:pk>/", api.UnitDetail.as_view(), name="unit-detail"),
    path("units/<int:unit_id>/discard", api.unit_discard, name="unit-discard"),
    path("units/<int:unit_id>/release", api.unit_release, name="unit-release"),
    path("requests/<int:pk>/", api.RequestDetail.as_view(), name="request-detail"),
    path("requests/<int:request_id>/cancel", api.request_cancel, name="request-cancel"),
    path(
        "requests/<int:request_id>/emergency-release", api.request_emergency_release, name="request-emergency-release"
    ),
    path("requests/<int:request_id>/network-stock", api.request_network_stock, name="request-network-stock"),
    path("allocations/<int:allocation_id>/crossmatch", api.allocation_crossmatch, name="allocation-crossmatch"),
    path("allocations/<int:allocation_id>/transfuse", api.allocation_transfuse, name="allocation-transfuse"),
    path(
        "allocations/<int:allocation_id>/transfusion", api.allocation_transfusion_amend, name="allocation-transfusion"
    ),
    path("allocations/<int:allocation_id>/return", api.allocation_return, name="allocation-return"),
    path("allocations/<int:allocation_id>/issue", api.allocation_issue, name="allocation-issue"),
    path("allocations/<int:allocation_id>/cancel", api.allocation_cancel, name="allocation-cancel"),
    path("transfers/", api.TransferListCreate.as_view(), name="transfers"),
    path("transfers/<int:transfer_id>/<str:step>", api.transfer_step, name="transfer-step"),
    path("par-levels/", api.ParLevelListCreate.as_view(), name="par-levels"),
    path("inventory/network", api.network_inventory, name="network-inventory"),
]
