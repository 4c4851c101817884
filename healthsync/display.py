"""How the console and the donor portal show dates, times and urgency to people: one format each.

A moment reads "8 Dec 23:59" ("8 Dec 2027 23:59" outside the current year), a day "8 Dec" ("8 Dec 2027"),
both in the hospital's time zone (``TIME_ZONE``); an expiry reads "use by 8 Dec 23:59". Templates use the
same functions through ``{% load display %}`` (``|when``, ``|use_by``); the REST API keeps ISO 8601.
Apps add the columns of their own (``register_column``: the blood bank's urgency labels).
"""

from datetime import date, datetime
from functools import cache

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import dateformat, timezone
from django.utils.text import capfirst


def when(value) -> str:
    """``value`` (a datetime or a date) as people read it; "" for none."""
    if value is None or value == "":
        return ""
    this_year = timezone.localdate().year
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return dateformat.format(value, "j M H:i" if value.year == this_year else "j M Y H:i")
    if isinstance(value, date):
        return dateformat.format(value, "j M" if value.year == this_year else "j M Y")
    return str(value)


def use_by(value) -> str:
    """An expiry: "use by 8 Dec 23:59"."""
    return f"use by {when(value)}" if value else ""


def _readable(name: str, render, description: str):
    """A list column showing the model field ``name`` through ``render``, sortable by the field."""

    @admin.display(description=description, ordering=name)
    def column(obj):
        value = getattr(obj, name)
        return None if value is None else render(value)

    column.__name__ = name  # the column's CSS class: column-<name>
    return column


COLUMNS = {"expires_at": (use_by, "Use by")}  # field name: (render, heading or None for the field's)


def register_column(name: str, render, heading: str | None = None) -> None:
    """Show every change-list column of the field ``name`` through ``render`` (apps call it at start-up)."""
    COLUMNS[name] = (render, heading)
    readable_column.cache_clear()


@cache
def readable_column(model, name):
    """The column to show in place of ``name`` of ``model``'s change list: dates and times in the one
    format, an expiry as "use by …", urgency as its label; any other column as it is."""
    if not isinstance(name, str):
        return name
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    description = capfirst(field.verbose_name)
    if name in COLUMNS:
        render, heading = COLUMNS[name]
        return _readable(name, render, heading or description)
    if isinstance(field, models.DateField):  # DateTimeField too
        return _readable(name, when, description)
    return name


class ReadableColumns:
    """A ModelAdmin mixin: its change list shows dates, expiries and urgency as ``readable_column`` does."""

    def get_list_display(self, request):
        return [readable_column(self.model, name) for name in super().get_list_display(request)]
