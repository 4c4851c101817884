"""Walk-in donors registered at a hospital's desk (issue #23 item 4) belong to that hospital's staff."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("donors", "0003_region"),
        ("healthsync", "0003_region"),
    ]

    operations = [
        migrations.AddField(
            model_name="donorprofile",
            name="registered_at_hospital",
            field=models.ForeignKey(
                blank=True, help_text="The hospital whose desk registered the donor (empty: the donor registered themselves).",
                null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="registered_donors", to="healthsync.hospital",
            ),
        ),
    ]
