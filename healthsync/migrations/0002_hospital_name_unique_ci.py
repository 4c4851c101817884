"""Hospital names unique, case aside (security test, issue #26 item 11).

Before the constraint is added, existing names are checked: where two hospitals share a name
(whatever the case), the migration stops and names them, rather than renaming a hospital that
patients and staff know by that name. Rename all but one in the console (Hospitals), then migrate again.
"""

import django.db.models.functions.text
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_duplicate_names(apps, schema_editor):
    Hospital = apps.get_model("healthsync", "Hospital")
    hospitals = Hospital.objects.using(schema_editor.connection.alias)
    taken = hospitals.annotate(key=Lower("name")).values("key").annotate(n=Count("id")).filter(n__gt=1).values_list("key", flat=True)
    if not taken:
        return
    lines = []
    for key in sorted(taken):
        same = hospitals.annotate(key=Lower("name")).filter(key=key).order_by("pk")
        lines.append("; ".join(f"{hospital.name!r} (id {hospital.pk}, FIN {hospital.fin})" for hospital in same))
    raise RuntimeError(
        "Hospital names must be unique (whatever the case), and these hospitals share one:\n  "
        + "\n  ".join(lines)
        + "\nRename all but one of each (the operations console, Hospitals), then run migrate again."
    )


class Migration(migrations.Migration):

    dependencies = [
        ("healthsync", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(refuse_duplicate_names, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="hospital",
            name="name",
            field=models.CharField(
                help_text="Unique, whatever the case. Changing a verified hospital's name withdraws its verification.", max_length=200,
            ),
        ),
        migrations.AddConstraint(
            model_name="hospital",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"), name="hospital_name_unique_ci",
                violation_error_message="A hospital with this name is already registered.",
            ),
        ),
    ]
