"""A JSON Schema compiled to closures that answer one question: is this document valid?

Why: jsonschema walks the schema anew for every value (a validator object per subschema, per value:
10,000 of them for a 1,000-device inventory), 20 % of loading one. A valid file is the common case,
and for it nothing needs explaining; so :func:`compile_schema` turns a schema into nested closures
that only say yes or no, and :mod:`.schema` asks jsonschema, whose errors it explains, only when the
answer is not a yes. A keyword this module does not know makes it compile nothing (jsonschema then
checks every document), and a value it cannot judge exactly (a list of mappings that must be unique)
raises :class:`Undecided`: a yes here is always jsonschema's yes (the tests compare the two).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that annotate and never validate.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples", "deprecated"}
)


class Undecided(Exception):
    """The closures cannot judge this value exactly; ask jsonschema."""


class Unsupported(Exception):
    """The schema uses a keyword (or a form of one) the closures do not implement."""


def compile_schema(root: dict[str, Any]) -> Check | None:
    """A check equivalent to jsonschema's Draft 2020-12 ``is_valid`` for ``root``, or None if ``root``
    uses what this module does not implement."""
    try:
        return _Compiler(root).compile(root)
    except Unsupported:
        return None


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar(value: Any) -> bool:
    """A value that ``==`` compares as jsonschema's ``equal`` does, once booleans are kept apart."""
    return value is None or isinstance(value, str | bool | int | float)


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's ``equal`` where one side is a scalar: ``True`` is not ``1``, a list or mapping is
    no scalar; other types (a date) are :class:`Undecided`."""
    if one is two:
        return True
    for side in (one, two):
        if not (_scalar(side) or isinstance(side, dict | list)):
            raise Undecided
    if not (_scalar(one) and _scalar(two)):
        if isinstance(one, dict | list) and isinstance(two, dict | list):
            raise Undecided
        return False
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # not the same object, so not the same boolean
    return bool(one == two)


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda _: True
        if schema is False:
            return lambda _: False
        if not isinstance(schema, dict):
            raise Unsupported(repr(schema))
        checks: list[Check] = []
        for keyword, rule in schema.items():
            if keyword in _ANNOTATIONS or (keyword in ("then", "else") and "if" in schema):
                continue  # "then" and "else" are compiled with their "if"
            build = getattr(self, "_kw_" + keyword.lstrip("$"), None)  # each keyword's method: _kw_ and its name
            if build is None:
                raise Unsupported(keyword)
            checks.append(build(rule, schema))
        return _every(checks)

    # references ----------------------------------------------------------------------------------

    def _kw_ref(self, ref: Any, _: dict[str, Any]) -> Check:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise Unsupported(f"$ref {ref!r}")
        if ref not in self.refs:
            compiled: list[Check] = []
            self.refs[ref] = lambda value: compiled[0](value)  # a reference inside its own target
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            compiled.append(self.compile(target))
        return self.refs[ref]

    # any value ------------------------------------------------------------------------------------

    def _kw_type(self, rule: Any, _: dict[str, Any]) -> Check:
        names = rule if isinstance(rule, list) else [rule]
        if not all(isinstance(n, str) and n in _TYPES for n in names):
            raise Unsupported(f"type {rule!r}")
        checks = [_TYPES[n] for n in names]
        return checks[0] if len(checks) == 1 else lambda value: any(check(value) for check in checks)

    def _kw_enum(self, rule: Any, _: dict[str, Any]) -> Check:
        if not isinstance(rule, list) or not all(_scalar(c) for c in rule):
            raise Unsupported("enum")
        if all(isinstance(c, str) for c in rule):
            choices = frozenset(rule)
            return lambda value: isinstance(value, str) and value in choices
        return lambda value: any(_equal(value, c) for c in rule)

    def _kw_const(self, rule: Any, _: dict[str, Any]) -> Check:
        return self._kw_enum([rule], _)

    def _kw_allOf(self, rule: list[Any], _: dict[str, Any]) -> Check:
        return _every([self.compile(s) for s in rule])

    def _kw_anyOf(self, rule: list[Any], _: dict[str, Any]) -> Check:
        checks = [self.compile(s) for s in rule]
        return lambda value: any(check(value) for check in checks)

    def _kw_oneOf(self, rule: list[Any], _: dict[str, Any]) -> Check:
        checks = [self.compile(s) for s in rule]
        return lambda value: sum(1 for check in checks if check(value)) == 1

    def _kw_not(self, rule: Any, _: dict[str, Any]) -> Check:
        check = self.compile(rule)
        return lambda value: not check(value)

    def _kw_if(self, rule: Any, schema: dict[str, Any]) -> Check:
        condition = self.compile(rule)
        then = self.compile(schema.get("then", True))
        otherwise = self.compile(schema.get("else", True))
        return lambda value: then(value) if condition(value) else otherwise(value)

    # strings and numbers ------------------------------------------------------------------------

    def _kw_pattern(self, rule: str, _: dict[str, Any]) -> Check:
        search = re.compile(rule).search
        return lambda value: not isinstance(value, str) or search(value) is not None

    def _kw_minLength(self, rule: int, _: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, str) or len(value) >= rule

    def _kw_maxLength(self, rule: int, _: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, str) or len(value) <= rule

    def _kw_minimum(self, rule: Any, _: dict[str, Any]) -> Check:
        _number_rule(rule)
        return lambda value: not _is_number(value) or not value < rule

    def _kw_maximum(self, rule: Any, _: dict[str, Any]) -> Check:
        _number_rule(rule)
        return lambda value: not _is_number(value) or not value > rule

    # arrays ----------------------------------------------------------------------------------------

    def _kw_items(self, rule: Any, schema: dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        check = self.compile(rule)
        return lambda value: not isinstance(value, list) or all(check(item) for item in value)

    def _kw_minItems(self, rule: int, _: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, list) or len(value) >= rule

    def _kw_maxItems(self, rule: int, _: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, list) or len(value) <= rule

    def _kw_uniqueItems(self, rule: Any, _: dict[str, Any]) -> Check:
        if rule is not True:
            return lambda _: True
        return lambda value: not isinstance(value, list) or _unique(value)

    # objects ---------------------------------------------------------------------------------------

    def _kw_properties(self, rule: dict[str, Any], _: dict[str, Any]) -> Check:
        checks = {name: self.compile(s) for name, s in rule.items()}

        def properties(value: Any) -> bool:
            return not isinstance(value, dict) or all(
                check(value[name]) for name, check in checks.items() if name in value
            )

        return properties

    def _kw_additionalProperties(self, rule: Any, schema: dict[str, Any]) -> Check:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = frozenset(schema.get("properties", {}))
        if rule is False:
            return lambda value: not isinstance(value, dict) or known.issuperset(value)
        check = self.compile(rule)
        return lambda value: (
            not isinstance(value, dict) or all(check(item) for key, item in value.items() if key not in known)
        )

    def _kw_propertyNames(self, rule: Any, _: dict[str, Any]) -> Check:
        check = self.compile(rule)
        return lambda value: not isinstance(value, dict) or all(check(key) for key in value)

    def _kw_required(self, rule: list[str], _: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, dict) or all(name in value for name in rule)

    def _kw_dependentRequired(self, rule: dict[str, list[str]], _: dict[str, Any]) -> Check:
        return lambda value: (
            not isinstance(value, dict)
            or all(all(name in value for name in needed) for present, needed in rule.items() if present in value)
        )


def _every(checks: list[Check]) -> Check:
    """A check passing where each of ``checks`` passes (two, the common case, without a generator)."""
    if not checks:
        return lambda _: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda value: first(value) and second(value)
    return lambda value: all(check(value) for check in checks)


def _number_rule(rule: Any) -> None:
    if not _is_number(rule) or (isinstance(rule, float) and not math.isfinite(rule)):
        raise Unsupported(f"bound {rule!r}")


def _unique(items: list[Any]) -> bool:
    """jsonschema's ``uniqueItems`` for lists of scalars (``True`` and ``1`` differ, ``1`` and ``1.0`` do not)."""
    if all(isinstance(item, str) for item in items):
        return len(set(items)) == len(items)
    for i, one in enumerate(items):
        for two in items[i + 1 :]:
            if _equal(one, two):
                return False
    return True
