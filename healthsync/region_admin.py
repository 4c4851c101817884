"""The managed list of regions in the operations console: every staff role reads it, platform administrators
add, rename and remove regions (one still chosen by a hospital or a donor cannot be removed)."""

from django import forms
from django.contrib import admin
from django.db.models import Count

from .admin_site import StaffReadOnlyAdmin
from .models import Region
from .regions import tidy


class RegionForm(forms.ModelForm):
    class Meta:
        model = Region
        fields = ["name", "code"]

    def clean_code(self):
        return self.cleaned_data["code"].strip().upper()

    def clean_name(self):
        return tidy(self.cleaned_data["name"])


@admin.register(Region)
class RegionAdmin(StaffReadOnlyAdmin):
    form = RegionForm
    list_display = ["name", "code", "hospital_count", "donor_count"]
    search_fields = ["name", "code"]
    fields = ["name", "code"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(hospital_count=Count("hospitals", distinct=True), donor_count=Count("donors", distinct=True))
        )

    @admin.display(description="Hospitals", ordering="hospital_count")
    def hospital_count(self, region):
        return region.hospital_count

    @admin.display(description="Donors", ordering="donor_count")
    def donor_count(self, region):
        return region.donor_count
