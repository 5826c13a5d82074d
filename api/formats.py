"""Wire formats of the contract (shared/api-v1.md, Formats)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(value: datetime | None) -> str | None:
    """UTC with a ``Z``; fractional seconds only when non-zero (trailing zeros trimmed)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    # Not strftime: its %Y drops leading zeros of years before 1000 on glibc.
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"
