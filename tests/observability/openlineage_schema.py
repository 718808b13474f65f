"""The OpenLineage JSON schema, as the openlineage-python package knows it.

The package ships no .json schema files (and the tests fetch nothing from the network), but
its `openlineage.client.generated` classes are generated from the spec's JSON schemas and
each names the schema definition it was generated from (`_get_schema()`, the same URL an
event's facets carry as `_schemaURL`). This module turns those classes back into JSON
Schema: one definition per class, its attributes as properties (required when they have
no default), the spec's formats (uuid, date-time, uri) on the fields that have them, and no
property beyond the spec's on the core objects (events, runs, jobs, datasets); facets may
carry more, as the spec allows.
"""

from __future__ import annotations

import enum
import functools
import importlib
import pkgutil
import types
import typing
import uuid
from typing import Any
from urllib.parse import urlparse

import attr
import jsonschema
import openlineage.client.generated as generated
from dateutil import parser as dateparser
from openlineage.client.generated.base import BaseFacet, RunEvent

FORMATS = {"runId": "uuid", "eventTime": "date-time", "nominalStartTime": "date-time",
           "nominalEndTime": "date-time", "producer": "uri", "schemaURL": "uri",
           "_producer": "uri", "_schemaURL": "uri"}


def _classes() -> list[type]:
    found: list[type] = []
    for info in pkgutil.iter_modules(generated.__path__):
        module = importlib.import_module(f"{generated.__name__}.{info.name}")
        found += [c for c in vars(module).values()
                  if isinstance(c, type) and attr.has(c) and c.__module__ == module.__name__]
    return found


CLASSES = _classes()


def def_name(cls: type) -> str:
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__qualname__}"


def _type_schema(tp: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return {}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(a) for a in args]}
    if tp is type(None):
        return {"type": "null"}
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0]) if args else {}}
    if origin is dict:
        return {"type": "object",
                "additionalProperties": _type_schema(args[1]) if args else {}}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if isinstance(tp, type) and attr.has(tp):
        return {"$ref": f"#/$defs/{def_name(tp)}"}
    return {str: {"type": "string"}, bool: {"type": "boolean"}, int: {"type": "integer"},
            float: {"type": "number"}, dict: {"type": "object"}, list: {"type": "array"}}[tp]


def class_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for field in attr.fields(cls):
        prop = _type_schema(hints[field.name])
        if field.name in FORMATS:
            prop = {**prop, "format": FORMATS[field.name]}
        props[field.name] = prop
        # A facet's _producer and _schemaURL are filled in by the client: always present.
        # (an event's producer and schemaURL too: the spec requires them).
        if field.default is attr.NOTHING or field.name in ("_producer", "_schemaURL",
                                                           "producer", "schemaURL"):
            required.append(field.name)
    facet = issubclass(cls, BaseFacet)
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": facet}


@functools.cache
def validator_for(root: type) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema_for(root), format_checker=CHECKER)


def schema_for(root: type) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": f"#/$defs/{def_name(root)}",
            "$defs": {def_name(c): class_schema(c) for c in CLASSES}}


RUN_EVENT_SCHEMA = schema_for(RunEvent)
# Each facet class by the schema URL its instances carry.
FACETS_BY_URL = {c._get_schema(): c for c in CLASSES
                 if issubclass(c, BaseFacet) and hasattr(c, "_get_schema")}

CHECKER = jsonschema.FormatChecker(formats=())


@CHECKER.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@CHECKER.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or ("T" in value and bool(dateparser.isoparse(value)))


@CHECKER.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme)


def validate_run_event(event: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `event` is a valid OpenLineage RunEvent,
    each facet also valid against the definition its `_schemaURL` names."""
    validator_for(RunEvent).validate(event)
    facets: list[dict[str, Any]] = [*event["run"].get("facets", {}).values(),
                                    *event["job"].get("facets", {}).values()]
    for ds in [*event.get("inputs", []), *event.get("outputs", [])]:
        for key in ("facets", "inputFacets", "outputFacets"):
            facets += ds.get(key, {}).values()
    for facet in facets:
        cls = FACETS_BY_URL.get(facet["_schemaURL"])
        assert cls is not None, f"no facet definition for {facet['_schemaURL']}"
        validator_for(cls).validate(facet)
