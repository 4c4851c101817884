from django.apps import AppConfig


class BloodBankConfig(AppConfig):
    name = "bloodbank"
    verbose_name = "Blood bank"
