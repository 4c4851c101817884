"""One managed list of regions, last step: the hospitals' free-text region, now linked (``donors.0003_region``), goes."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("healthsync", "0003_region"),
        ("donors", "0003_region"),
    ]

    operations = [
        migrations.RemoveField(model_name="hospital", name="region_text"),
    ]
