"""Parse + validate rate of the import's lines, three designs side by side in one run.

    python bench/parse.py                      # 5,000 sessions (about 9,000 lines), 7 rounds
    python bench/parse.py --sessions 20000 --rounds 9

On realistic session and scorecard lines (``bench/generate.py``, seed 1), each contender turns
raw bytes into a validated row (``orjson.loads`` + check, or pydantic's own JSON parser):

- ``a`` the hand-written rules with their fast path, before records were declared once
  (``bench/baseline_validation.py``, a frozen copy);
- ``b`` a pydantic v2 ``TypeAdapter`` over ``TypedDict``s with the same rules (strict types,
  bounds and patterns in pydantic-core; UUID and timestamp conversion in Python, as the rules
  need: a cache of ids, ``datetime.fromisoformat``), from a dict and from the raw line;
- ``c`` today's ``importing.validation.CLEANERS``: records declared once (``core.records``).

Rounds are interleaved (each round runs every contender, in a rotated order) and the median is
reported, because the machines are shared and noisy: only figures taken side by side compare.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from pydantic import AfterValidator, ConfigDict, StringConstraints, TypeAdapter  # noqa: E402
from pydantic import Field as PField  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

from bench import baseline_validation  # noqa: E402
from bench.generate import generate  # noqa: E402
from core import records  # noqa: E402
from importing.validation import CLEANERS  # noqa: E402

# -- b: pydantic ------------------------------------------------------------------------------

_UUIDS: dict[str, uuid.UUID] = {}


def _uuid(value: str) -> uuid.UUID:
    known = _UUIDS.get(value)
    if known is None:
        known = _UUIDS[value] = uuid.UUID(value)
    return known


def _instant(value: str) -> datetime:
    try:
        return records._instant(value)
    except records._Bad as exc:
        raise ValueError(exc.args[0]) from None


_NO_NUL = r"^[^\x00]*$"
_NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
Id = Annotated[str, StringConstraints(pattern=baseline_validation.UUID_RE.pattern[:-2] + "$"),
               AfterValidator(_uuid)]  # fmt: skip
Instant = Annotated[str, StringConstraints(max_length=64), AfterValidator(_instant)]
Name = Annotated[str, StringConstraints(max_length=200, pattern=_NOT_BLANK)]
Key = Annotated[str, StringConstraints(max_length=64, pattern=_NOT_BLANK)]
Message = Annotated[str, StringConstraints(max_length=100_000, pattern=_NO_NUL)]
Said = Annotated[str, StringConstraints(max_length=100_000, pattern=_NOT_BLANK)]
# Constraints on each member: on the union itself they run in Python, about twice as slow.
Seconds = (
    Annotated[int, PField(ge=0, le=2**31 - 1)]
    | Annotated[float, PField(ge=0, le=2**31 - 1, allow_inf_nan=False)]
)
STRICT = ConfigDict(strict=True)


class Turn(TypedDict):
    __pydantic_config__ = STRICT  # type: ignore[misc]
    role: Literal["agent", "user"]
    message: Message
    time: Seconds


class Category(TypedDict):
    __pydantic_config__ = STRICT  # type: ignore[misc]
    key: Key
    label: Name
    score: Annotated[int, PField(ge=0, le=100)]
    feedback: NotRequired[Message | None]


class Callout(TypedDict):
    __pydantic_config__ = STRICT  # type: ignore[misc]
    kind: Literal["strength", "improvement"]
    text: Said
    time: NotRequired[Seconds | None]


class SessionLine(TypedDict):
    __pydantic_config__ = STRICT  # type: ignore[misc]
    type: Literal["session"]
    id: Id
    tenant_id: Id
    user_id: Id
    scenario_id: Id
    status: Literal["in_progress", "completed", "scored", "abandoned", "failed"]
    started_at: Instant
    ended_at: NotRequired[Instant | None]
    duration_seconds: NotRequired[Annotated[int, PField(ge=0, le=2**31 - 1)] | None]
    created_at: NotRequired[Instant | None]
    transcript: NotRequired[Annotated[list[Turn], PField(max_length=10_000)] | None]


class ScorecardLine(TypedDict):
    __pydantic_config__ = STRICT  # type: ignore[misc]
    type: Literal["scorecard"]
    id: Id
    tenant_id: Id
    session_id: Id
    overall_score: Annotated[int, PField(ge=0, le=100)]
    verdict: Literal["crushed_it", "solid", "needs_work", "missed_the_mark"]
    headline: Annotated[str, StringConstraints(max_length=1000, pattern=_NOT_BLANK)]
    categories: NotRequired[Annotated[list[Category], PField(max_length=10_000)] | None]
    callouts: NotRequired[Annotated[list[Callout], PField(max_length=10_000)] | None]
    created_at: NotRequired[Instant | None]


LINE = TypeAdapter(Annotated[SessionLine | ScorecardLine, PField(discriminator="type")])


def pydantic_dict(line: bytes) -> Any:
    return LINE.validate_python(orjson.loads(line))


def pydantic_json(line: bytes) -> Any:
    return LINE.validate_json(line)


# -- a and c -----------------------------------------------------------------------------------


def cleaners(table: dict[str, Callable[[dict], dict]]) -> Callable[[bytes], Any]:
    def parse(line: bytes) -> Any:
        record = orjson.loads(line)
        return table[record["type"]](record)

    return parse


CONTENDERS = {
    "a hand-written rules + fast path": cleaners(baseline_validation.CLEANERS),
    "b pydantic TypeAdapter (orjson + validate_python)": pydantic_dict,
    "b pydantic TypeAdapter (validate_json)": pydantic_json,
    "c declared once (core.records)": cleaners(CLEANERS),
}


def lines(sessions: int) -> list[bytes]:
    out = io.BytesIO()
    generate(sessions=sessions, tenants=20, seed=1, out=out)
    wanted = (b'{"type":"session"', b'{"type":"scorecard"')
    return [line for line in out.getvalue().splitlines() if line.startswith(wanted)]


def rate(parse: Callable[[bytes], Any], data: list[bytes]) -> float:
    started = time.perf_counter()
    for line in data:
        parse(line)
    return len(data) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    data = lines(args.sessions)
    names = list(CONTENDERS)
    for name in names:  # every design accepts every line, and warms up
        for line in data:
            CONTENDERS[name](line)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            rates[name].append(rate(CONTENDERS[name], data))
    sessions = sum(line.startswith(b'{"type":"session"') for line in data)
    print(f"{len(data):,} lines ({sessions:,} sessions, the rest scorecards), "
          f"{args.rounds} interleaved rounds, median records/s:")  # fmt: skip
    for name in names:
        median = statistics.median(rates[name])
        # Each round's ratio to a in that same round, then their median: steadier than a ratio
        # of medians when other work comes and goes on the machine.
        ratio = statistics.median(r / a for r, a in zip(rates[name], rates[names[0]], strict=True))
        spread = f"{min(rates[name]):,.0f}-{max(rates[name]):,.0f}"
        print(f"  {name:52} {median:9,.0f}/s  {ratio:.2f}x a  (range {spread})")


if __name__ == "__main__":
    main()
