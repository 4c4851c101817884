"""One managed list of regions (issue #23 item 8), step 2: donors link to a region; the regions are made
from the free text hospitals and donors had, and every row is linked.

Spellings that differ only in case and spacing (" north", "North", "NORTH ") become one region, named
by its most used spelling, with a code made from it (``healthsync.regions``). Rows without a region keep
none. Backwards, each row gets its region's name as text again. The donors' phone search key
(``phone_key``) is filled for the existing profiles too.
"""

from collections import Counter

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count

from donors.models import phone_search_key
from healthsync.regions import code_for, merged_names, region_key


def _models(apps):
    return apps.get_model("healthsync", "Region"), (apps.get_model("healthsync", "Hospital"), apps.get_model("donors", "DonorProfile"))


def link_regions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # The links are checked now, not at commit: the field removals below may then alter the tables.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    Region, tables = _models(apps)
    spellings = Counter()
    for model in tables:
        for text, count in model.objects.exclude(region_text="").values_list("region_text").annotate(n=Count("id")):
            spellings[text] += count
    regions = {region_key(region.name): region for region in Region.objects.all()}
    codes = set(Region.objects.values_list("code", flat=True))
    for key, name in sorted(merged_names(spellings).items()):
        if key not in regions:
            regions[key] = Region.objects.create(code=code_for(name, codes), name=name)
            codes.add(regions[key].code)
    for model in tables:
        for text in spellings:
            if region_key(text) in regions:
                model.objects.filter(region_text=text).update(region=regions[region_key(text)])
    DonorProfile = tables[1]
    for profile in DonorProfile.objects.exclude(contact_number=None).only("contact_number"):
        DonorProfile.objects.filter(pk=profile.pk).update(phone_key=phone_search_key(profile.contact_number))


def unlink_regions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    Region, tables = _models(apps)
    for model in tables:
        for region in Region.objects.all():
            model.objects.filter(region=region).update(region_text=region.name)


class Migration(migrations.Migration):

    dependencies = [
        ("donors", "0002_deferral_lifted"),
        ("healthsync", "0003_region"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="donorprofile", name="donor_group_region_idx"),
        migrations.RenameField(model_name="donorprofile", old_name="region", new_name="region_text"),
        migrations.AlterField(model_name="donorprofile", name="region_text", field=models.CharField(blank=True, max_length=100)),
        migrations.AddField(
            model_name="donorprofile",
            name="region",
            field=models.ForeignKey(
                blank=True, help_text="Where the donor lives: urgent calls of this region's hospitals reach them.", null=True,
                on_delete=django.db.models.deletion.PROTECT, related_name="donors", to="healthsync.region",
            ),
        ),
        migrations.AddField(
            model_name="donorprofile",
            name="phone_key",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=64),
        ),
        migrations.RunPython(link_regions, unlink_regions),
        migrations.RemoveField(model_name="donorprofile", name="region_text"),
        migrations.AddIndex(
            model_name="donorprofile",
            index=models.Index(fields=["blood_group", "region"], name="donor_group_region_idx"),
        ),
    ]
