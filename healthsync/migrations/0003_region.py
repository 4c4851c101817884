"""One managed list of regions (issue #23 item 8), step 1: the ``Region`` table and the hospitals' link to it.

The free-text region a hospital had is kept as ``region_text`` until ``donors.0003_region`` has made
the regions from every hospital's and donor's text and linked the rows; ``0004`` then drops it.
"""

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("healthsync", "0002_hospital_name_unique_ci"),
    ]

    operations = [
        migrations.CreateModel(
            name="Region",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.CharField(help_text="Short and stable, e.g. NORTH.", max_length=20, unique=True, validators=[
                    django.core.validators.RegexValidator(
                        "^[A-Z0-9][A-Z0-9-]{0,19}$",
                        "A region code is up to 20 capital letters, digits or hyphens, starting with a letter or digit.",
                    )
                ])),
                ("name", models.CharField(help_text="Unique, whatever the case and spacing.", max_length=100)),
            ],
            options={
                "ordering": ["name"],
                "constraints": [models.UniqueConstraint(
                    django.db.models.functions.text.Lower("name"), name="region_name_unique_ci",
                    violation_error_message="A region with this name already exists.",
                )],
            },
        ),
        migrations.RenameField(model_name="hospital", old_name="region", new_name="region_text"),
        migrations.AlterField(model_name="hospital", name="region_text", field=models.CharField(blank=True, max_length=100)),
        migrations.AddField(
            model_name="hospital",
            name="region",
            field=models.ForeignKey(
                blank=True, help_text="Urgent calls go to the donors of this region.", null=True,
                on_delete=django.db.models.deletion.PROTECT, related_name="hospitals", to="healthsync.region",
            ),
        ),
    ]
