"""The scopes a token can carry (docs/api-guide.md, Authentication and scopes)."""

SCOPES: dict[str, str] = {
    "sessions:read": "List sessions and read one session with its transcript",
    "scorecards:read": "Read scorecards",
    "scenarios:read": "List scenarios",
    "users:read": "List users (reps)",
    "users:email": "Add email to users with ?include=email (needs users:read too)",
    "analytics:read": "Read the analytics summary",
}
ALL_SCOPES: tuple[str, ...] = tuple(SCOPES)


def parse_scopes(raw: str) -> list[str]:
    """``"sessions:read, users:read"`` or ``"all"`` -> a sorted list; ValueError names unknowns."""
    names = {part.strip() for part in raw.split(",") if part.strip()}
    if names == {"all"}:
        return list(ALL_SCOPES)
    unknown = sorted(names - set(SCOPES))
    if unknown:
        raise ValueError(
            f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)} (or 'all')"
        )
    if not names:
        raise ValueError("at least one scope is required")
    return sorted(names, key=ALL_SCOPES.index)
