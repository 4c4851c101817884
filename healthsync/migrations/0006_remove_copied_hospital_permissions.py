"""Remove the copies of staff roles that used to be written into django-guardian's tables.

Permissions are now derived from ``Membership`` rows (``healthsync.permissions``), and guardian is
no longer installed, so its object permissions on hospitals (every one a copy of a membership's
role, written on each grant) would only be stale: if old code ever read them again, it would deny
rather than grant on the strength of a copy. The tables themselves belong to guardian; on a
database that has them, they are left (empty of these rows) for the operator to drop.
"""

from django.db import migrations

GUARDIAN_TABLES = ("guardian_userobjectpermission", "guardian_groupobjectpermission")


def remove_copies(apps, schema_editor):
    connection = schema_editor.connection
    present = [table for table in GUARDIAN_TABLES if table in connection.introspection.table_names()]
    hospital_type = apps.get_model("contenttypes", "ContentType").objects.filter(app_label="healthsync", model="hospital").first()
    if not present or hospital_type is None:
        return  # a database created after guardian left: nothing was ever copied
    with connection.cursor() as cursor:
        for table in present:
            # Only a fixed table name goes into the text; the value is a parameter.
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)} WHERE content_type_id = %s", [hospital_type.pk])  # nosec B608


class Migration(migrations.Migration):

    dependencies = [
        ("healthsync", "0005_invitation"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(remove_copies, migrations.RunPython.noop)]
