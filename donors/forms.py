"""Forms of the donor portal. They only shape input; the checks that matter live in the services."""

from django import forms

from bloodbank.models import BloodGroup
from healthsync.regions import RegionChoiceField

from .models import DonationType, Sex


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


class DonorProfileCreateForm(forms.Form):
    """The details a new web account gives to become a donor (``services.donor_profile_create``)."""

    name = forms.CharField(max_length=150, label="Full name")
    blood_group = forms.ChoiceField(
        choices=[("", "Choose…"), *BloodGroup.choices], help_text="Self-reported until a donation's typing confirms it."
    )
    date_of_birth = forms.DateField(widget=DateInput, help_text="Donors must be at least 17.")
    sex = forms.ChoiceField(choices=[("", "Prefer to say at screening"), *Sex.choices], required=False)
    weight_kg = forms.DecimalField(
        label="Weight (kg)", max_digits=5, decimal_places=1, required=False, min_value=1, max_value=400
    )
    region = RegionChoiceField(help_text="Where you live: urgent calls go to donors in the hospital's region.")
    contact_number = forms.CharField(max_length=40, required=False, label="Mobile number")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    available_for_emergencies = forms.BooleanField(
        required=False, label="Call me when a hospital near me urgently needs my blood group"
    )


class DonorPreferencesForm(forms.Form):
    """The donor's own details and preferences (``services.donor_profile_update``)."""

    name = forms.CharField(max_length=150, label="Full name")
    contact_number = forms.CharField(max_length=40, required=False, label="Mobile number")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    region = RegionChoiceField()
    weight_kg = forms.DecimalField(
        label="Weight (kg)", max_digits=5, decimal_places=1, required=False, min_value=1, max_value=400
    )
    available_for_emergencies = forms.BooleanField(
        required=False, label="Call me when a hospital near me urgently needs my blood group"
    )
    notify_by_email = forms.BooleanField(required=False, label="By email")
    notify_by_sms = forms.BooleanField(required=False, label="By text message (SMS)")
    quiet_hours_start = forms.TimeField(widget=TimeInput, required=False, label="Quiet from")
    quiet_hours_end = forms.TimeField(widget=TimeInput, required=False, label="Quiet until")

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("quiet_hours_start")) != bool(cleaned.get("quiet_hours_end")):
            raise forms.ValidationError("Give both ends of your quiet hours, or neither.")
        return cleaned


class SlotFilterForm(forms.Form):
    region = RegionChoiceField(empty_label="Any region")
    donation_type = forms.ChoiceField(
        choices=[("", "Any donation type"), *DonationType.choices], required=False, label="Donation type"
    )


def bootstrap(form: forms.Form) -> forms.Form:
    """Give every widget Bootstrap's classes (forms stay plain Django forms)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")
    return form
