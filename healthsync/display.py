"""How the console and the donor portal show dates, times and urgency to people: one format each.

A moment reads "8 Dec 23:59" ("8 Dec 2027 23:59" outside the current year), a day "8 Dec" ("8 Dec 2027"),
both in the hospital's time zone (``TIME_ZONE``); an expiry reads "use by 8 Dec 23:59". Urgency reads as
its level and word ("5 — emergency") in a coloured label. Templates use the same functions through
``{% load display %}`` (``|when``, ``|use_by``, ``|urgency``); the REST API keeps ISO 8601.
"""

from datetime import date, datetime
from functools import lru_cache

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.text import capfirst

from bloodbank import rules


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


def urgency_word(level: int) -> str:
    """The word of an urgency level, from the levels of ``bloodbank.rules`` (as alerts and FHIR name them)."""
    if level >= rules.EMERGENCY:
        return "emergency"
    return "urgent" if level >= rules.URGENT else "routine"


def urgency_text(level) -> str:
    """ "5 — emergency"; a value that is no level (never saved) as it is."""
    if isinstance(level, bool) or not isinstance(level, int) or level not in rules.URGENCY_LEVELS:
        return "" if level is None else str(level)
    return f"{level} — {urgency_word(level)}"


def urgency_choices() -> list[tuple[int, str]]:
    return [(level, urgency_text(level)) for level in rules.URGENCY_LEVELS]


def urgency_label(level) -> str:
    """The coloured label of an urgency level (HTML)."""
    if level is None:
        return ""
    return format_html('<span class="urgency-label urgency-{}">{}</span>', level, urgency_text(level))


def _readable(name: str, render, description: str):
    """A list column showing the model field ``name`` through ``render``, sortable by the field."""

    @admin.display(description=description, ordering=name)
    def column(obj):
        value = getattr(obj, name)
        return None if value is None else render(value)

    column.__name__ = name  # the column's CSS class: column-<name>
    return column


@lru_cache(maxsize=None)
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
    if name == "urgency":
        return _readable(name, urgency_label, description)
    if name == "expires_at":
        return _readable(name, use_by, "Use by")
    if isinstance(field, models.DateField):  # DateTimeField too
        return _readable(name, when, description)
    return name


class ReadableColumns:
    """A ModelAdmin mixin: its change list shows dates, expiries and urgency as ``readable_column`` does."""

    def get_list_display(self, request):
        return [readable_column(self.model, name) for name in super().get_list_display(request)]


class UrgencyFilter(admin.SimpleListFilter):
    """Filter requests by urgency, each level with its word."""

    title = "urgency"
    parameter_name = "urgency"

    def lookups(self, request, model_admin):
        return [(str(level), text) for level, text in urgency_choices()]

    def queryset(self, request, queryset):
        if self.value() in {str(level) for level in rules.URGENCY_LEVELS}:
            return queryset.filter(urgency=int(self.value()))
        return queryset
