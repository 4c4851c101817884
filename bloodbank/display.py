"""How the console shows urgency: its level and word ("5 — emergency", ``rules.URGENCY_WORDS``) in a
coloured label, in change lists (through ``healthsync.display``), filters, forms and templates
(``{% load urgency %}``)."""

from django.contrib import admin
from django.utils.html import format_html

from healthsync.display import register_column

from . import rules


def urgency_text(level) -> str:
    """ "5 — emergency"; a value that is no level (never saved) as it is."""
    if isinstance(level, bool) or not isinstance(level, int) or level not in rules.URGENCY_LEVELS:
        return "" if level is None else str(level)
    return f"{level} — {rules.URGENCY_WORDS[level]}"


def urgency_choices() -> list[tuple[int, str]]:
    return [(level, urgency_text(level)) for level in rules.URGENCY_LEVELS]


def urgency_label(level) -> str:
    """The coloured label of an urgency level (HTML)."""
    if level is None:
        return ""
    return format_html('<span class="urgency-label urgency-{}">{}</span>', level, urgency_text(level))


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


register_column("urgency", urgency_label)
