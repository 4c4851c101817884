"""The one managed list of regions: finding a region by its code or name, and the form field that offers them.

A hospital's and a donor's region is a ``Region`` row (platform administrators manage the list in the
console), so matching is by id: "north", " North " and "NORTH" are one region. People and the API name
a region by its code or its name, whatever the case and spacing; an unknown one is refused (400).
"""

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q

from .errors import DomainError
from .models import Region


def tidy(text: str | None) -> str:
    """A region's name as stored: surrounding spaces trimmed, runs of whitespace made one space."""
    return " ".join((text or "").split())


def region_key(text: str | None) -> str:
    """What two spellings of one region share: the tidy text, case aside."""
    return tidy(text).casefold()


def code_for(name: str, taken: Iterable[str] = ()) -> str:
    """A free region code made from ``name`` ("Île-de-France" -> "ILE-DE-FRANCE"), numbered when taken."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Z0-9]+", "-", ascii_name.upper()).strip("-")[:20].strip("-") or "REGION"
    taken = set(taken)
    code, number = base, 2
    while code in taken:
        suffix = f"-{number}"
        code, number = base[: 20 - len(suffix)] + suffix, number + 1
    return code


def merged_names(spellings: Counter) -> dict[str, str]:
    """The free-text spellings (with how often each is used) merged by ``region_key``: for each key, the
    name the region gets, the most used tidy spelling (ties: one in mixed case, then the first alphabetically)."""
    by_key: dict[str, Counter] = {}
    for text, count in spellings.items():
        if tidy(text):
            by_key.setdefault(region_key(text), Counter())[tidy(text)] += count
    return {
        key: min(counts, key=lambda name: (-counts[name], name.islower() or name.isupper(), name))
        for key, counts in by_key.items()
    }


def region_find(value: "Region | str | None") -> Region | None:
    """The region ``value`` names: a ``Region`` itself, or its code or name whatever the case and spacing.
    Empty means no region (None); anything else unknown is refused (400 ``unknown_region``)."""
    if value is None or isinstance(value, Region):
        return value
    text = tidy(str(value))
    if not text:
        return None
    found = list(Region.objects.filter(Q(code__iexact=text) | Q(name__iexact=text)))
    if not found:
        names = ", ".join(Region.objects.values_list("name", flat=True)[:30]) or "none yet"
        message = f"Unknown region {text!r}; choose one of the managed regions ({names})."
        raise DomainError(message, code="unknown_region", fields={"region": [message]})
    return next((region for region in found if region.code.upper() == text.upper()), found[0])


def region_or_none(value: "Region | str | None") -> Region | None:
    """``region_find`` for filters and links: an unknown region filters nothing (None)."""
    try:
        return region_find(value)
    except DomainError:
        return None


class RegionChoiceField(forms.ModelChoiceField):
    """A choice from the managed regions (the options' values are the codes); a code or a name typed in
    any case, as in an old link, picks the region too."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Region.objects.all())
        kwargs.setdefault("to_field_name", "code")
        kwargs.setdefault("required", False)
        kwargs.setdefault("empty_label", "No region")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, int):  # a model form's initial value: the region's id
            value = Region.objects.filter(pk=value).first()
        return super().prepare_value(value)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return region_find(value)
        except DomainError as exc:
            raise ValidationError(exc.message, code="invalid_choice") from exc
