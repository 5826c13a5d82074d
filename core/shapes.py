"""One declaration per resource shape: the wire fields, from which everything else is derived.

A resource's app declares its shape once, as a :class:`Shape` of fields made by the helpers
below (``uuid``, ``timestamp``, ``choice``, ...). From that one list come:

- ``columns()``: what a selector passes to ``.values(**...)`` so that the database renders each
  value in wire format (:mod:`core.dbfunctions`), under the key ``w_<name>``;
- ``render(row)``: such a row as the JSON object the API returns (JSON documents pass through
  untouched as ``orjson.Fragment``);
- ``serializer``: the DRF serializer drf-spectacular documents as the OpenAPI component;
- ``from_object(obj)`` / ``from_values(mapping)``: the same object built from Python values (a
  model instance, a result, a record of the demo file), for small responses and schema examples.

Adding a field to a resource touches its storage and its shape, nothing else.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson
from django.db.models import Expression, F, TextChoices
from rest_framework import serializers

from .dbfunctions import RFC3339, JSONText, UUIDText
from .formats import rfc3339

COMPUTED = object()  # a column the selector supplies (a subquery): ``columns(name=...)``


@dataclass(frozen=True)
class WireField:
    name: str
    # The ORM path it is read from: a model field, or a relation path such as scorecard__id.
    source: str
    # How the database renders it (None: no column, e.g. a nested item's field).
    column: Callable[[str], Expression] | object | None
    # A fresh DRF field for the schema (a field instance belongs to one serializer).
    schema: Callable[[], serializers.Field]
    # A plain Python value (datetime, UUID, list) to its wire value.
    to_wire: Callable[[Any], Any] = lambda value: value
    # Set for JSON documents the database returns as text: sent on as a Fragment.
    json_text: bool = False
    # Present only when the request asks for it (``include=<flag>``, ``expand=<flag>``).
    only_with: str | None = None
    # An object of another shape read through a relation (``embedded``): its columns are that
    # shape's, under ``w_<name>.<field>``; null when the relation has no row.
    embed: Shape | None = None


def _attrs(null: bool, help_text: str | None, **more: Any) -> dict[str, Any]:
    attrs = dict(more)
    if null:
        attrs["allow_null"] = True
    if help_text:
        attrs["help_text"] = help_text
    return attrs


def _uuid_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _timestamp_text(value: Any) -> str | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return rfc3339(value)


def uuid(
    name: str,
    *,
    source: str | None = None,
    null: bool = False,
    help_text=None,
    only_with: str | None = None,
):
    return WireField(
        name,
        source or name,
        UUIDText,
        lambda: serializers.UUIDField(**_attrs(null, help_text), **_optional(only_with)),
        _uuid_text,
        only_with=only_with,
    )


def calendar_date(name: str, *, only_with: str | None = None, help_text=None):
    """A date (``YYYY-MM-DD``) from a Python ``date``."""
    return WireField(
        name,
        name,
        None,
        lambda: serializers.DateField(**_attrs(False, help_text), **_optional(only_with)),
        lambda value: None if value is None else value.isoformat(),
        only_with=only_with,
    )


def timestamp(
    name: str, *, source: str | None = None, null: bool = False, help_text=None, column=None
):
    return WireField(
        name,
        source or name,
        column or RFC3339,
        lambda: serializers.DateTimeField(**_attrs(null, help_text)),
        _timestamp_text,
    )


def text(name: str, *, source: str | None = None, blank: bool = False, help_text=None):
    extra = {"allow_blank": True} if blank else {}
    return WireField(
        name, source or name, F, lambda: serializers.CharField(**_attrs(False, help_text, **extra))
    )


def email(name: str, *, only_with: str, help_text=None):
    return WireField(
        name,
        name,
        F,
        lambda: serializers.EmailField(required=False, **_attrs(True, help_text)),
        to_wire=lambda value: value or None,
        only_with=only_with,
    )


def integer(name: str, *, null: bool = False, minimum=None, maximum=None, help_text=None):
    bounds = {k: v for k, v in (("min_value", minimum), ("max_value", maximum)) if v is not None}
    return WireField(
        name, name, F, lambda: serializers.IntegerField(**_attrs(null, help_text, **bounds))
    )


def number(name: str, *, null: bool = False, minimum=None, help_text=None):
    bounds = {} if minimum is None else {"min_value": minimum}
    return WireField(
        name, name, None, lambda: serializers.FloatField(**_attrs(null, help_text, **bounds))
    )


def choice(name: str, choices: type[TextChoices] | Iterable[str], *, help_text=None):
    values = choices.choices if isinstance(choices, type) else list(choices)
    return WireField(
        name, name, F, lambda: serializers.ChoiceField(choices=values, **_attrs(False, help_text))
    )


def choice_list(name: str, choices: Iterable[str]):
    values = list(choices)
    return WireField(
        name,
        name,
        None,
        lambda: serializers.ListField(child=serializers.ChoiceField(choices=values)),
        list,
    )


def items(name: str, item: Shape, *, source: str | None = None, only_with: str | None = None):
    """A JSON array of ``item`` objects, stored as one JSON document."""
    return WireField(
        name,
        source or name,
        JSONText,
        lambda: item.serializer(many=True, **_optional(only_with)),
        json_text=True,
        only_with=only_with,
    )


def embedded(name: str, shape: Shape, *, via: str, only_with: str, help_text=None):
    """The object of ``shape`` that the relation ``via`` leads to (or null), in the same
    query: ``expand=<only_with>``."""
    return WireField(
        name,
        via,
        None,
        lambda: shape.serializer(allow_null=True, **_optional(only_with), help_text=help_text),
        only_with=only_with,
        embed=shape,
    )


def _optional(only_with: str | None) -> dict[str, Any]:
    return {"required": False} if only_with is not None else {}


def nested(name: str, shape: Shape):
    """An object of another shape, built from Python values (no column)."""
    return WireField(name, name, None, lambda: shape.serializer(), shape.from_object)


def mapping(name: str, shape: Shape, *, help_text=None):
    """An object of another shape, built from a mapping of its values (no column)."""
    return WireField(
        name, name, None, lambda: shape.serializer(**_attrs(False, help_text)), shape.from_values
    )


def mappings(name: str, shape: Shape, *, help_text=None):
    """An array of objects of another shape, each built from a mapping (no column)."""
    return WireField(
        name,
        name,
        None,
        lambda: shape.serializer(many=True, **_attrs(False, help_text)),
        lambda values: [shape.from_values(value) for value in values],
    )


class Shape:
    def __init__(self, name: str, *fields: WireField) -> None:
        self.name = name  # the OpenAPI component's name
        self.fields = fields
        self.by_name = {f.name: f for f in fields}

    def extend(self, name: str, *fields: WireField) -> Shape:
        return Shape(name, *self.fields, *fields)

    # -- the database renders it ---------------------------------------------------------------

    def columns(
        self, include: frozenset[str] | None = None, **computed: Expression
    ) -> dict[str, Expression]:
        """``.values(**shape.columns())``; a computed field's expression is given by name.
        ``include``: the optional fields asked for (None: every one)."""
        out: dict[str, Expression] = {}
        for f in self.fields:
            if f.only_with is not None and include is not None and f.only_with not in include:
                continue
            if f.embed is not None:
                for inner in f.embed.fields:
                    if inner.column is not None and inner.column is not COMPUTED:
                        out[f"w_{f.name}.{inner.name}"] = inner.column(
                            f"{f.source}__{inner.source}"
                        )
            elif f.column is COMPUTED:
                out[f"w_{f.name}"] = computed[f.name]
            elif f.column is not None:
                out[f"w_{f.name}"] = f.column(f.source)
        return out

    @cached_property
    def _renderer(self) -> Callable[[Mapping[str, Any], frozenset[str]], dict[str, Any]]:
        always = [f for f in self.fields if f.only_with is None]
        names = [f.name for f in always]
        get = operator.itemgetter(*(f"w_{name}" for name in names))
        fragments = [f.name for f in always if f.json_text]
        optional = [f for f in self.fields if f.only_with is not None]

        def render(row: Mapping[str, Any], include: frozenset[str]) -> dict[str, Any]:
            out = dict(zip(names, get(row), strict=True))
            for name in fragments:
                out[name] = orjson.Fragment(out[name])
            for f in optional:
                if f.only_with not in include:
                    continue
                if f.embed is not None:
                    out[f.name] = f.embed.render_embedded(row, f"w_{f.name}.")
                elif f.json_text:
                    out[f.name] = orjson.Fragment(row[f"w_{f.name}"])
                else:
                    out[f.name] = f.to_wire(row[f"w_{f.name}"])
            return out

        return render

    def render(self, row: Mapping[str, Any], include: frozenset[str] = frozenset()):
        """A row of ``columns()`` as the wire object."""
        return self._renderer(row, include)

    def render_embedded(self, row: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
        """This shape's object from the ``<prefix><field>`` columns of a row (an ``embedded``
        field), None when the relation had no row (its id is null)."""
        if row[f"{prefix}id"] is None:
            return None
        return self.render(
            {f"w_{k[len(prefix) :]}": v for k, v in row.items() if k.startswith(prefix)}
        )

    # -- built from Python values --------------------------------------------------------------

    def from_values(self, values: Mapping[str, Any], include: Iterable[str] = ()):
        """The wire object from plain values by wire name (absent optional fields left out)."""
        chosen = set(include)
        return {
            f.name: f.to_wire(values.get(f.name))
            for f in self.fields
            if f.only_with is None or f.only_with in chosen
        }

    def from_object(self, obj: Any) -> dict[str, Any]:
        return {f.name: f.to_wire(operator.attrgetter(f.source)(obj)) for f in self.fields}

    # -- the schema ----------------------------------------------------------------------------

    @cached_property
    def serializer(self) -> type[serializers.Serializer]:
        attrs = {f.name: f.schema() for f in self.fields}
        return type(f"{self.name}Serializer", (serializers.Serializer,), attrs)
