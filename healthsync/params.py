"""Whole numbers and dates read from query parameters, validated and bounded in one place.

``str.isdigit()`` then ``int()`` is not enough: ``"²".isdigit()`` is true and ``int("²")`` raises,
``int()`` refuses strings of more than 4,300 digits, and a huge number overflows ``timedelta``,
``date`` arithmetic or the database's integers further on. Every query parameter that is a number
or a date goes through here: a value that is not one, or lies outside its bounds, is a 400 naming
the parameter (``DomainError``), never a 500.
"""

from datetime import date

from .errors import DomainError

# Dates the application can compute with: a period's edges move by days and a year (reports), which
# overflows near year 1 and year 9999.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)
_MAX_DIGITS = 30  # far beyond any id or count, far below int()'s limit on digits


def whole_number(params, name: str, *, default=None, maximum: int | None = None, clamp: bool = False):
    """``params[name]`` as a whole number written in ASCII digits, or ``default`` when absent or empty.

    Anything else (a sign, spaces, ``1e3``, ``²``) is a 400 naming ``name``; so is a number above
    ``maximum``, unless ``clamp``, which gives ``maximum`` instead."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    text = str(raw)
    if not (text.isascii() and text.isdigit()):
        raise DomainError(f"{name} must be a whole number.", fields={name: ["Must be a whole number (digits only)."]})
    text = text.lstrip("0") or "0"
    if len(text) > _MAX_DIGITS:
        if maximum is None or not clamp:
            raise DomainError(
                f"{name} is too large.",
                fields={name: [f"Must be at most {maximum}." if maximum is not None else "Too large."]},
            )
        return maximum
    value = int(text)
    if maximum is not None and value > maximum:
        if clamp:
            return maximum
        raise DomainError(f"{name} must be at most {maximum}.", fields={name: [f"Must be at most {maximum}."]})
    return value


def calendar_date(value: str, name: str) -> date:
    """``value`` (YYYY-MM-DD) as a date between ``EARLIEST_DATE`` and ``LATEST_DATE``; else a 400 naming ``name``."""
    try:
        parsed = date.fromisoformat(str(value))
    except ValueError:
        raise DomainError(f"{name} must be a date like 2026-01-31.", fields={name: ["Use YYYY-MM-DD."]}) from None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        message = f"Must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."
        raise DomainError(f"{name}: {message}", fields={name: [message]})
    return parsed
