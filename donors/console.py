"""The donor desk of the operations console: the forms staff fill in when a donor walks in.

Search, register a walk-in donor (``services.donor_register_at_desk``), open a visit
(``services.donation_register_walk_in``), record the screening (``services.screening_record``) and
the collection (``services.donation_collect``). The pages are the admin's own (``admin.py``); a
refusal from a service is shown as the form's error through ``ServiceAdminMixin``.
"""

from django import forms
from django.contrib.admin.widgets import AdminDateWidget

from bloodbank.models import Component
from healthsync.models import Hospital
from healthsync.regions import RegionChoiceField

from . import rules
from .models import DonorProfile, Screening, Sex


class WalkInDonorForm(forms.ModelForm):
    """A walk-in donor's details. Contact number, address and date of birth are stored encrypted, as the model does."""

    hospital = forms.ModelChoiceField(queryset=Hospital.objects.none(), label="Registering hospital")
    name = forms.CharField(max_length=150, label="Full name")
    email = forms.EmailField(
        max_length=254,
        help_text="Their login: to use the donor portal they set a password with “Forgot your password?”.",
    )
    date_of_birth = forms.DateField(widget=AdminDateWidget, help_text="Donors must be at least 17.")
    sex = forms.ChoiceField(
        choices=[("", "---------"), *Sex.choices], help_text="It sets the haemoglobin limit at screening."
    )
    weight_kg = forms.DecimalField(
        label="Weight (kg)", max_digits=5, decimal_places=1, min_value=1, max_value=400, required=False
    )
    contact_number = forms.CharField(max_length=40, required=False, label="Phone")
    address = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    region = RegionChoiceField(help_text="Where they live: urgent calls go to the donors of a hospital's region.")

    class Meta:
        model = DonorProfile
        fields = ["blood_group"]
        help_texts = {"blood_group": "As the donor says; a donation's typing confirms it."}

    def __init__(self, *args, hospitals=None, **kwargs):
        super().__init__(*args, **kwargs)
        if hospitals is not None:
            self.fields["hospital"].queryset = hospitals


DESK_FIELDS = [
    "hospital",
    "name",
    "email",
    "blood_group",
    "date_of_birth",
    "sex",
    "weight_kg",
    "contact_number",
    "address",
    "region",
]


class ScreeningForm(forms.ModelForm):
    sex = forms.ChoiceField(
        choices=[("", "As on record"), *Sex.choices],
        required=False,
        help_text="Only if the donor's record has none or it is wrong.",
    )

    class Meta:
        model = Screening
        fields = [
            "donation",
            "haemoglobin_g_dl",
            "systolic_mmhg",
            "diastolic_mmhg",
            "pulse_bpm",
            "temperature_c",
            "questionnaire_passed",
            "weight_kg",
            "passed",
            "problems",
        ]


class CollectionForm(forms.Form):
    """The collection of a screened visit: the donation type's standard units, or a whole-blood
    donation's components."""

    components = forms.MultipleChoiceField(
        choices=[
            (value, label)
            for value, label in Component.choices
            if value in rules.WHOLE_BLOOD_COMPONENTS - {"whole_blood"}
        ],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Whole blood only: the components it is separated into. None: one whole-blood unit.",
    )
    volume_ml = forms.IntegerField(
        label="Volume (ml)",
        min_value=100,
        max_value=1000,
        required=False,
        help_text="Whole blood only; empty: the standard volume.",
    )

    def __init__(self, *args, donation, **kwargs):
        super().__init__(*args, **kwargs)
        if donation.donation_type != rules.WHOLE_BLOOD:
            del self.fields["components"]
            del self.fields["volume_ml"]
