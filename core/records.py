"""Records declared once, their checker derived: the import format's field rules.

A :class:`Record` lists its fields (name, kind, required or its default); each kind is a list of
rules, a condition on the value ``v`` paired with the message shown when it fails, in the order
they are tried. From that one declaration :meth:`Record.check` is generated as straight-line
Python: the conjunction of a field's conditions accepts the common case in one expression, and
only a failing value walks the rules again to find its message. This replaces a hand-written
fast path beside detailed rules (two statements of every rule, held equal by a test): it runs
within a few percent of that fast path (``bench/parse.py``); calling a checker per item ran
transcripts of dozens of turns at about two thirds of its speed.

It lives in the core layer because the apps above it declare their own records here: turns in
``roleplay`` (transcripts, scorecard items), whole lines in ``importing``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.formats import UUID_RE

MAX_NAME = 200
MAX_TEXT = 100_000
MAX_INT32 = 2**31 - 1
MAX_ITEMS = 10_000

# Every session names its tenant, rep and scenario: the same few ids, parsed once each.
_UUIDS: dict[str, uuid.UUID] = {}
MAX_REMEMBERED_UUIDS = 50_000


class Invalid(Exception):
    """A record with problems: every one of them, each ``field: message``."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class _Bad(Exception):
    """Raised by a kind's conversion (timestamps) whose last rule is too long for an expression."""


def _remember_uuid(value: str) -> uuid.UUID:
    if len(_UUIDS) >= MAX_REMEMBERED_UUIDS:
        _UUIDS.clear()
    parsed = _UUIDS[value] = uuid.UUID(value)
    return parsed


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad("must be an RFC 3339 timestamp such as 2026-05-06T17:00:00Z") from None
    if parsed.tzinfo is None:
        raise _Bad("must carry a UTC offset or Z, e.g. 2026-05-06T17:00:00Z")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:30:00+01:00 is in year 0 in UTC
        raise _Bad("must fall between years 0001 and 9999 in UTC") from None


@dataclass(frozen=True)
class Kind:
    """Rules as ``(condition on v, message)``, tried in order; ``convert`` (an expression) turns
    a value that passed them into what is stored, and may raise ``_Bad`` with a message."""

    rules: tuple[tuple[str, str], ...]
    names: dict[str, Any] = field(default_factory=dict)
    convert: str = "v"
    items: Record | None = None


def text(
    max_length: int = MAX_NAME,
    *,
    blank: bool = False,
    also: Sequence[tuple[str, str]] = (),
    names: dict[str, Any] | None = None,
) -> Kind:
    rules = [("v.__class__ is str", "must be a string")]
    if not blank:
        rules.append(("v.strip()", "must not be blank"))
    rules += [
        (f"len(v) <= {max_length}", f"must be at most {max_length} characters"),
        ("'\\x00' not in v", "must not contain NUL characters"),
        *also,
    ]
    return Kind(tuple(rules), names or {})


def choice(choices: Any) -> Kind:
    """One of a ``TextChoices``' values, the message listing them in their declared order."""
    values = [str(value) for value in choices.values]
    return Kind(
        (("v.__class__ is str and v in choices", f"must be one of {', '.join(values)}"),),
        {"choices": frozenset(values)},
    )


def integer(low: int, high: int) -> Kind:
    return Kind(
        (
            ("v.__class__ is int", "must be an integer"),
            (f"{low} <= v <= {high}", f"must be between {low} and {high}"),
        )
    )


def seconds() -> Kind:
    """A time offset: an integer or a finite float (NaN and infinity fail the bounds)."""
    return Kind(
        (
            (
                f"(v.__class__ is int or v.__class__ is float) and 0 <= v <= {MAX_INT32}",
                "must be a number of seconds, zero or more",
            ),
        )
    )


def uuid_kind() -> Kind:
    # The cache is consulted first: a known id skips the regular expression.
    return Kind(
        (
            (
                "v.__class__ is str and (v in uuids or uuid_re.match(v))",
                "must be a UUID such as 30000000-0000-0000-0000-000000000001",
            ),
        ),
        {"uuids": _UUIDS, "uuid_re": UUID_RE, "remember": _remember_uuid},
        convert="uuids.get(v) or remember(v)",
    )


def timestamp() -> Kind:
    return Kind(
        (
            (
                "v.__class__ is str and len(v) <= 64",
                "must be an RFC 3339 timestamp such as 2026-05-06T17:00:00Z",
            ),
        ),
        {"instant": _instant},
        convert="instant(v)",
    )


def items(record: Record, max_items: int = MAX_ITEMS) -> Kind:
    """A list of objects, each checked as ``record``; problems read ``name[i].field: ...``."""
    return Kind(
        (
            ("v.__class__ is list", "must be a list"),
            (f"len(v) <= {max_items}", f"must have at most {max_items} items"),
        ),
        items=record,
    )


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    required: bool = True
    default: Any = None  # stored when an optional field is absent or null; a literal


class Record:
    """One record type. ``check(record, problems)`` returns the row, appending each problem to
    ``problems``; ``clean(record)`` returns the row or raises :class:`Invalid`. ``finish(row,
    problems)`` adds the rules that span fields, after the fields' own."""

    def __init__(
        self,
        name: str,
        fields: Sequence[Field],
        finish: Callable[[dict[str, Any], list[str]], None] | None = None,
    ):
        self.name = name
        self.fields = tuple(fields)
        self.finish = finish
        self.check: Callable[[dict[str, Any], list[str]], dict[str, Any]] = _compile(self)

    def clean(self, record: dict[str, Any]) -> dict[str, Any]:
        problems: list[str] = []
        row = self.check(record, problems)
        if self.finish is not None:
            self.finish(row, problems)
        if problems:
            raise Invalid(problems)
        return row

    def problems_by_field(self, record: dict[str, Any]) -> dict[str, list[str]]:
        """Each top-level field's problems, as a form shows them (admin)."""
        problems: list[str] = []
        self.check(record, problems)
        by_field: dict[str, list[str]] = {}
        for problem in problems:
            name = re.split(r"[\[:.]", problem, maxsplit=1)[0]
            by_field.setdefault(name, []).append(problem)
        return by_field


def _compile(record: Record) -> Callable[[dict[str, Any], list[str]], dict[str, Any]]:
    names: dict[str, Any] = {"_Bad": _Bad}
    body = _record_code(record, names, "r", "", 1, "")
    row = _row(record, "")
    # Bound as keyword defaults: locals are faster to reach than globals.
    signature = ", ".join(f"{name}={name}" for name in names)
    source = "\n".join([f"def check(r, P, *, {signature}):", *body, f"    return {row}"])
    namespace = dict(names)
    # Generated from declarations in this code base, never from input: the technique of
    # dataclasses and namedtuple, for the same reason (speed without repeating oneself).
    exec(compile(source, f"<record {record.name}>", "exec"), namespace)  # noqa: S102
    check = namespace["check"]
    check.source = source  # for a reader debugging a rule
    return check


def _row(record: Record, path: str) -> str:
    return "{" + ", ".join(f"{f.name!r}: f{path}_{n}" for n, f in enumerate(record.fields)) + "}"


def _message(prefix: str, text: str) -> str:
    """Source of a problem's text: ``prefix`` is f-string source naming the item being read."""
    literal = text.replace("{", "{{").replace("}", "}}")
    return f"f{prefix + literal!r}" if prefix else repr(text)


def _record_code(
    record: Record,
    names: dict[str, Any],
    source: str,
    prefix: str,
    depth: int,
    path: str,
    keep: str = "",
) -> list[str]:
    """Statements reading each field of ``source`` into ``f<path>_<n>``, the common case first.

    An item list is checked inline, not by a call per item: transcripts hold dozens of turns,
    and the call and its bookkeeping cost more than the checks themselves.
    """
    pad = "    " * depth
    lines: list[str] = []
    for number, spec in enumerate(record.fields):
        kind, out, tag = spec.kind, f"f{path}_{number}", f"{path}_{number}"
        # Each field's names get their own suffix: two fields may use one name differently.
        own = {name: f"{name}{tag}" for name in kind.names}
        names.update({own[name]: value for name, value in kind.names.items()})

        def expr(code: str, own: dict[str, str] = own) -> str:
            return re.sub(r"\b[A-Za-z_]\w*\b", lambda m: own.get(m.group(), m.group()), code)

        where = f"{prefix}{spec.name}"
        default = f"{pad}    {out} = {spec.default!r}"
        conditions = " and ".join(f"({expr(condition)})" for condition, _ in kind.rules)
        lines += [f"{pad}v = {source}.get({spec.name!r})", f"{pad}if v is None:"]
        if keep:
            lines.append(f"{pad}    {keep} = False")
        if spec.required:
            lines.append(f"{pad}    P.append({_message(prefix, spec.name + ': is required')})")
        lines += [default, f"{pad}elif {conditions}:"]
        if kind.items is not None:
            index, item = f"i{depth}", f"it{depth}"
            inner = f"{where}[{{{index}}}]"
            # The list is the input itself until an item must be rebuilt (rare): no copy.
            rebuilt = f"{out} = seq{tag}[:{index}] if {out} is seq{tag} else {out}"
            lines += [
                f"{pad}    {out} = seq{tag} = v",
                f"{pad}    for {index}, {item} in enumerate(seq{tag}):",
                f"{pad}        if {item}.__class__ is dict:",
                # Kept as it came when it holds exactly the declared fields, all valid.
                f"{pad}            keep{tag} = len({item}) == {len(kind.items.fields)}",
                *_record_code(kind.items, names, item, inner + ".", depth + 3, tag, f"keep{tag}"),
                f"{pad}            if not keep{tag}:",
                f"{pad}                {rebuilt}",
                f"{pad}                {out}.append({_row(kind.items, tag)})",
                f"{pad}            elif {out} is not seq{tag}:",
                f"{pad}                {out}.append({item})",
                f"{pad}        else:",
                f"{pad}            P.append({_message(inner, ': must be an object')})",
                f"{pad}            {rebuilt}",
                f"{pad}            {out}.append(None)",
            ]
        elif kind.convert == "v":
            lines.append(f"{pad}    {out} = v")
        else:
            lines += [
                f"{pad}    try:",
                f"{pad}        {out} = {expr(kind.convert)}",
                f"{pad}    except _Bad as e:",
                f"{pad}        P.append({_message(prefix, spec.name + ': ')} + e.args[0])",
                f"    {default}",
            ]
        lines += [f"{pad}else:", default]
        if keep:
            lines.append(f"{pad}    {keep} = False")
        for position, (condition, message) in enumerate(kind.rules):
            keyword = "if" if position == 0 else "elif"
            lines += [
                f"{pad}    {keyword} not ({expr(condition)}):",
                f"{pad}        P.append({_message(prefix, f'{spec.name}: {message}')})",
            ]
    return lines
