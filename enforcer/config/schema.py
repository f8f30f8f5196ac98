"""JSON Schema validation of inventory and playbook documents, reported with file, line and key.

The schemas in ``enforcer/schemas/`` are the only statement of what a file may hold; editors use the
same files. This module turns jsonschema's errors into diagnostics a person can act on, with a
"did you mean" for misspelt keys.
"""

from __future__ import annotations

import copy
import difflib
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from enforcer.config._fastschema import Check, Undecided, compile_schema
from enforcer.config._yaml import Document
from enforcer.config.diagnostics import Diagnostics
from enforcer.drivers.registry import vendors

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``name`` (``inventory`` or ``playbook``) shipped with the package.

    A device's ``vendor`` must be one a driver is registered for; the file cannot know which drivers
    are installed, so the list is added here, from the registry.
    """
    text = resources.files("enforcer").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    if name == "inventory":
        loaded["$defs"]["device"]["properties"]["vendor"]["enum"] = list(vendors())
    return loaded


def editor_schema() -> dict[str, Any]:
    """The inventory schema as an editor's YAML language server sees a file: ``!secret`` and ``!vault``
    declared as scalar tags, so a reference is a string there. Written to ``inventory.editor.schema.json``
    (a test keeps that file equal to this), which the example inventory names in its modeline."""
    edited = copy.deepcopy(schema("inventory"))
    edited["$defs"]["secret"] = {
        "description": edited["$defs"]["secret"]["description"],
        "type": "string",
        "pattern": "^(env|file|vault):.+|^store:$|^\\$ANSIBLE_VAULT;",
    }
    edited["title"] = "enforcer inventory (for editors: !secret and !vault as scalar tags)"
    return edited


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    import jsonschema  # only for a document the fast check does not pass (jsonschema's import: 40 ms)

    return jsonschema.Draft202012Validator(inlined(schema(name)))


@cache
def _fast_check(name: str) -> Check | None:
    return compile_schema(inlined(schema(name)))


def _valid(data: object, name: str) -> bool:
    """Whether the fast check passes ``data`` (a pass is jsonschema's; anything else asks jsonschema)."""
    check = _fast_check(name)
    try:
        return check is not None and check(data)
    except Undecided:
        return False


def inlined(root: dict[str, Any]) -> dict[str, Any]:
    """``root`` with each local ``$ref`` replaced by the schema it names, for validating only.

    Why: jsonschema looks a reference up anew each time it meets one, and a 1,000-device inventory
    meets 7,500: 40 % of validating it. A reference's sibling ``description`` is dropped (it
    annotates, never validates: an error inside names the target's schema either way); a reference
    met inside its own expansion stays one, resolved from ``$defs``, which are kept.
    """

    def expand(node: Any, expanding: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [expand(item, expanding) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if (
            isinstance(ref, str)
            and ref.startswith("#/")
            and ref not in expanding
            and set(node) <= {"$ref", "description"}
        ):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return expand(target, expanding | {ref})
        return {key: expand(value, expanding) for key, value in node.items()}

    return {**expand(root, frozenset()), "$defs": root.get("$defs", {})}


def validate(doc: Document, name: str, diagnostics: Diagnostics) -> bool:
    """Check ``doc`` against schema ``name``; every violation becomes one diagnostic. True if valid."""
    if _valid(doc.data, name):
        return True
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    for error in _validator(name).iter_errors(doc.data):
        for keypath, message, hint in _explain(error):
            if (keypath, message) not in seen:
                seen.add((keypath, message))
                diagnostics.error(doc.where(keypath), message, hint)
    return not seen


def _explain(error: ValidationError) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Reduce a jsonschema error to (key path, message, hint) tuples, choosing the most specific cause."""
    path = tuple(error.absolute_path)
    rule: Any = error.validator_value
    subschema: Any = error.schema
    if error.schema == schema("inventory")["$defs"]["secret"]:
        return [(path, "must be a secret reference, never plaintext", _SECRET_HINT)]
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = _best_branch(error.context)
        if best is not None:
            return _explain(best)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(subschema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
            out.append(((*path, key), f"unknown key {key!r}", hint))
        return out
    if error.validator == "enum":
        choices = ", ".join(repr(c) for c in rule)
        close = difflib.get_close_matches(str(error.instance), [str(c) for c in rule], n=1)
        hint = f"did you mean {close[0]!r}?" if close else ""
        return [(path, f"{error.instance!r} is not one of {choices}", hint)]
    if error.validator == "type":
        expected = " or ".join(rule) if isinstance(rule, list) else str(rule)
        return [(path, f"expected {_article(expected)} {expected}, got {_describe(error.instance)}", "")]
    if error.validator == "required":  # a block that requires keys may say, in its description, what to do
        hint = subschema.get("description", "") if isinstance(subschema, dict) else ""
        return [(path, error.message.replace("is a required property", "is required"), hint)]
    if error.validator == "dependentRequired":
        return [(path, error.message, "")]
    if error.validator == "pattern":
        return [(path, error.message, subschema.get("description", ""))]
    return [(path, error.message, "")]


_SECRET_HINT = 'write !secret "env:NAME", !secret "file:path" or !secret "vault:file#key"'


def _best_branch(context: list[ValidationError]) -> ValidationError | None:
    """The branch error that got furthest: deepest path, then not a bare type mismatch."""
    if not context:
        return None
    return max(context, key=lambda e: (len(e.absolute_path), e.validator != "type", e.validator != "const"))


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}
    return (
        f"{kind.get(type(value), type(value).__name__)} {value!r}"
        if not isinstance(value, dict | list)
        else kind[type(value)]
    )
