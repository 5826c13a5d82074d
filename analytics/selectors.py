"""The analytics summary, computed from the same rows the list endpoints return.

``summary`` reads whole UTC days from the rollups (roleplay/models.py) and only the partial
days at the ends of the period from the sessions; ``summary_plain`` is the plain aggregate over
the sessions, the definition it must always equal (a property test compares them).
"""

from __future__ import annotations

import operator
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Sum, Value

from core import compiled
from roleplay.models import Rep, RepSpan, ScenarioDay, Session, TenantDay
from roleplay.rollups import day_of, start_of
from tenants.models import Tenant


@dataclass(frozen=True)
class Summary:
    sessions: int
    scored: int
    avg_score: int | None
    unique_reps: int


def round_half_up(total: int, count: int) -> int:
    """Integer mean rounded to nearest, halves up, without floating point."""
    return (2 * total + count) // (2 * count)


def summary_plain(
    *,
    tenant: Tenant,
    started_from: datetime,
    started_to: datetime,
    user_id: uuid.UUID | None = None,
    scenario_id: uuid.UUID | None = None,
) -> Summary:
    sessions = Session.objects.for_tenant(tenant).filter(
        started_at__gte=started_from, started_at__lte=started_to
    )
    if user_id is not None:
        sessions = sessions.filter(user_id=user_id)
    if scenario_id is not None:
        sessions = sessions.filter(scenario_id=scenario_id)
    figures = sessions.aggregate(
        sessions=Count("id"),
        scored=Count("scorecard__id"),
        score_total=Sum("scorecard__overall_score"),
        unique_reps=Count("user_id", distinct=True),
    )
    scored = figures["scored"]
    return Summary(
        sessions=figures["sessions"],
        scored=scored,
        avg_score=round_half_up(figures["score_total"], scored) if scored else None,
        unique_reps=figures["unique_reps"],
    )


def _full_days(started_from: datetime, started_to: datetime) -> tuple[date, date] | None:
    """The whole UTC days inside [started_from, started_to] (None when there are none)."""
    first = day_of(started_from)
    last = day_of(started_to)
    if started_from != start_of(first):
        if first == date.max:
            return None
        first += timedelta(days=1)
    if started_to.astimezone(UTC).time() != time.max:
        if last == date.min:
            return None
        last -= timedelta(days=1)
    return (first, last) if first <= last else None


HALF_DAY = timedelta(hours=12)


def _edges(
    started_from: datetime, started_to: datetime, first: date, last: date
) -> tuple[date, date, dict[str, datetime], tuple[str | None, str | None]]:
    """How to count the partial days at both ends of the period.

    Each is read from the sessions by whichever part of that day is smaller: the part inside
    the period (added: "plus"), or the part outside it, subtracted from the day's rollup
    ("minus"). Never more than half a day of sessions per end, however the period falls.
    Returns the rollup's day range, the bounds, and the kind of each end (None: no partial day).
    """
    bounds: dict[str, datetime] = {}
    head = tail = None
    if started_from < start_of(first):  # the day before ``first`` is partly in the period
        if start_of(first) - started_from <= HALF_DAY:
            head, bounds["head_from"], bounds["head_to"] = "plus", started_from, start_of(first)
        else:
            first -= timedelta(days=1)
            head, bounds["head_from"], bounds["head_to"] = "minus", start_of(first), started_from
    if last < date.max and started_to >= start_of(last + timedelta(days=1)):
        tail_day = last + timedelta(days=1)
        if started_to - start_of(tail_day) <= HALF_DAY or tail_day == date.max:
            tail, bounds["tail_from"], bounds["tail_to"] = "plus", start_of(tail_day), started_to
        else:
            last = tail_day
            tail = "minus"
            bounds["tail_from"], bounds["tail_to"] = started_to, start_of(tail_day + timedelta(1))
    return first, last, bounds, (head, tail)


def _one_row(queryset, **figures):
    """A single-row aggregate as a ``values()`` queryset, which core.compiled can cache."""
    return queryset.annotate(one=Value(1, IntegerField())).values("one").annotate(**figures)


def summary(
    *,
    tenant: Tenant,
    started_from: datetime,
    started_to: datetime,
    user_id: uuid.UUID | None = None,
    scenario_id: uuid.UUID | None = None,
) -> Summary:
    full_days = _full_days(started_from, started_to)
    if user_id is not None or full_days is None:
        # One rep's sessions (session_user_idx) or under two days: small enough as they are.
        return summary_plain(
            tenant=tenant,
            started_from=started_from,
            started_to=started_to,
            user_id=user_id,
            scenario_id=scenario_id,
        )
    first, last, bounds, ends = _edges(started_from, started_to, *full_days)
    session = Session._meta.get_field
    values = {
        "tenant": (session("tenant"), tenant.pk),
        "first": (TenantDay._meta.get_field("day"), first),
        "last": (TenantDay._meta.get_field("day"), last),
        "from": (session("started_at"), started_from),
        "to": (session("started_at"), started_to),
        **{name: (session("started_at"), moment) for name, moment in bounds.items()},
    }
    if scenario_id is not None:
        values["scenario"] = (session("scenario"), scenario_id)

    rolled = compiled.rows(_rollup, _only(values, "tenant", "scenario", "first", "last"))[0]
    totals = {name: rolled[name] or 0 for name in ("sessions", "scored", "score_total")}
    if any(ends):
        raw = compiled.rows(_edge_days, _only(values, "tenant", "scenario", *bounds), ends=ends)[0]
        for name in totals:
            totals[name] += (raw.get(f"plus_{name}") or 0) - (raw.get(f"minus_{name}") or 0)
    unique_reps = compiled.rows(_reps, _only(values, "tenant", "scenario", "from", "to"))[0]["n"]

    scored = totals["scored"]
    return Summary(
        sessions=totals["sessions"],
        scored=scored,
        avg_score=round_half_up(totals["score_total"], scored) if scored else None,
        unique_reps=unique_reps,
    )


# Query builders for core.compiled: values in ``v``, the rest of the shape as keywords.


def _sessions(v):
    rows = Session.objects.for_tenant(v["tenant"])
    return rows.filter(scenario_id=v["scenario"]) if "scenario" in v else rows


def _rollup(v):
    if "scenario" in v:
        rows = ScenarioDay.objects.for_tenant(v["tenant"]).filter(scenario_id=v["scenario"])
    else:
        rows = TenantDay.objects.for_tenant(v["tenant"])
    return _one_row(
        rows.filter(day__gte=v["first"], day__lte=v["last"]),
        sessions=Sum("sessions"),
        scored=Sum("scored"),
        score_total=Sum("score_total"),
    )


def _edge_days(v, ends):
    parts: dict[str, Q] = {}
    if ends[0]:
        parts[ends[0]] = Q(started_at__gte=v["head_from"], started_at__lt=v["head_to"])
    if ends[1]:
        tail = (
            Q(started_at__gte=v["tail_from"], started_at__lte=v["tail_to"])
            if ends[1] == "plus"
            else Q(started_at__gt=v["tail_from"], started_at__lt=v["tail_to"])
        )
        parts[ends[1]] = parts[ends[1]] | tail if ends[1] in parts else tail
    figures = {}
    for sign, where in parts.items():
        figures[f"{sign}_sessions"] = Count("id", filter=where)
        figures[f"{sign}_scored"] = Count("scorecard__id", filter=where)
        figures[f"{sign}_score_total"] = Sum("scorecard__overall_score", filter=where)
    return _one_row(_sessions(v).filter(reduce(operator.or_, parts.values())), **figures)


def _reps(v):
    # Distinct reps do not add up over days. Under a scenario filter: one index probe per
    # rep of the tenant. Otherwise the reps' spans decide, and only a rep whose sessions
    # span the whole period is probed (see RepSpan).
    def in_period(rep):
        return Exists(
            _sessions(v).filter(
                user_id=OuterRef(rep), started_at__gte=v["from"], started_at__lte=v["to"]
            )
        )

    if "scenario" in v:
        reps = Rep.objects.for_tenant(v["tenant"]).filter(in_period("id"))
    else:
        reps = RepSpan.objects.for_tenant(v["tenant"]).filter(
            Q(first_started_at__gte=v["from"])
            | Q(last_started_at__lte=v["to"])
            | in_period("user_id"),
            first_started_at__lte=v["to"],
            last_started_at__gte=v["from"],
        )
    return _one_row(reps, n=Count("id"))


def _only(values: dict, *names: str) -> dict:
    return {name: values[name] for name in names if name in values}
