"""Original file names (``Doe_Jane_MRN-123456.dcm``) are identifiers: kept encrypted like the others."""

import healthsync.fields
from django.db import migrations


def encrypt(apps, schema_editor):
    ImageAnalysis = apps.get_model("imaging", "ImageAnalysis")
    for analysis in ImageAnalysis.objects.exclude(original_name_plain="").only("pk", "original_name_plain").iterator():
        analysis.original_name = analysis.original_name_plain
        analysis.save(update_fields=["original_name"])


def decrypt(apps, schema_editor):
    ImageAnalysis = apps.get_model("imaging", "ImageAnalysis")
    for analysis in ImageAnalysis.objects.exclude(original_name=None).only("pk", "original_name").iterator():
        analysis.original_name_plain = analysis.original_name or ""
        analysis.save(update_fields=["original_name_plain"])


class Migration(migrations.Migration):

    dependencies = [
        ("imaging", "0004_analysis_findings_patient"),
    ]

    operations = [
        migrations.RenameField(model_name="imageanalysis", old_name="original_name", new_name="original_name_plain"),
        migrations.AddField(
            model_name="imageanalysis",
            name="original_name",
            field=healthsync.fields.PersonalCharField(blank=True, help_text="The file name as uploaded (it often names the patient), encrypted.",
                                                      max_length=255, null=True),
        ),
        migrations.RunPython(encrypt, decrypt),
        migrations.RemoveField(model_name="imageanalysis", name="original_name_plain"),
    ]
