"""YAML loading that remembers where every key came from.

Errors must name file, line and key, so loading keeps a side table from each key path to its line.
Secret tags become plain mappings (``!secret "env:X"`` → ``{"secret": "env:X"}``, ``!vault |`` →
``{"vault": "..."}``) so the JSON Schema can insist that passwords are references, never plaintext,
and so the same file can be written without tags by tools that do not know them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from enforcer.config.diagnostics import Diagnostics, Location

KeyPath = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed YAML file: its data and the line of every key path in it."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def where(self, keypath: KeyPath) -> Location:
        """The location of ``keypath``, or of its nearest parent that has one."""
        probe = tuple(keypath)
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return Location(self.path, self.lines.get(probe, 1), keypath)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose node tree we walk ourselves, so marks survive construction."""


def load(path: Path, diagnostics: Diagnostics) -> Document | None:
    """Parse ``path``; YAML errors and duplicate keys go to ``diagnostics`` (None if unparsable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        diagnostics.error(Location(path, 1, ()), f"cannot read file: {exc.strerror or exc}")
        return None
    except UnicodeDecodeError:
        diagnostics.error(Location(path, 1, ()), "file is not UTF-8 text")
        return None
    return loads(text, path, diagnostics)


def loads(text: str, path: Path, diagnostics: Diagnostics) -> Document | None:
    """Parse YAML text as if read from ``path``."""
    loader = _Loader(text)
    doc = Document(path, None)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Builder(loader, doc, diagnostics).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        diagnostics.error(Location(path, line, ()), f"YAML syntax error: {problem}{context}")
        return None
    except yaml.YAMLError as exc:
        diagnostics.error(Location(path, 1, ()), f"YAML error: {exc}")
        return None
    finally:
        loader.dispose()
    return doc


@dataclass
class _Builder:
    loader: _Loader
    doc: Document
    diagnostics: Diagnostics

    def build(self, node: yaml.Node, keypath: KeyPath) -> Any:
        doc, diagnostics = self.doc, self.diagnostics
        line = node.start_mark.line + 1
        doc.lines.setdefault(keypath, line)
        if node.tag == "!secret":
            if not isinstance(node, yaml.ScalarNode):
                diagnostics.error(Location(doc.path, line, keypath), '!secret takes a string such as "env:NAME"')
                return {"secret": ""}
            doc.lines[(*keypath, "secret")] = line
            return {"secret": node.value}
        if node.tag == "!vault":
            doc.lines[(*keypath, "vault")] = line
            return {"vault": node.value if isinstance(node, yaml.ScalarNode) else ""}
        if isinstance(node, yaml.MappingNode):
            return self._build_mapping(node, keypath)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*keypath, i)) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            diagnostics.error(Location(doc.path, line, keypath), f"cannot read value: {exc.problem}")
            return None

    def _build_mapping(self, node: yaml.MappingNode, keypath: KeyPath) -> dict[Any, Any]:
        doc, diagnostics = self.doc, self.diagnostics
        result: dict[Any, Any] = {}
        for key_node, value_node in _pairs(node):
            key = self.build(key_node, (*keypath, "<key>"))
            if isinstance(key, list | dict):
                diagnostics.error(Location(doc.path, key_node.start_mark.line + 1, keypath), "a key must be a scalar")
                continue
            child = (*keypath, key)
            line = key_node.start_mark.line + 1
            if key in result:
                first = doc.lines.get(child, line)
                diagnostics.error(
                    Location(doc.path, line, child), f"duplicate key {key!r} (first defined on line {first})"
                )
                continue
            doc.lines[child] = line
            result[key] = self.build(value_node, child)
        doc.lines.pop((*keypath, "<key>"), None)
        return result


def _pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """Key/value nodes, with YAML merge keys (``<<: *anchor``) expanded in place, explicit keys winning."""
    explicit = [(k, v) for k, v in node.value if k.tag != "tag:yaml.org,2002:merge"]
    names = {k.value for k, _ in explicit if isinstance(k, yaml.ScalarNode)}
    for key_node, value_node in node.value:
        if key_node.tag != "tag:yaml.org,2002:merge":
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if isinstance(source, yaml.MappingNode):
                for k, v in _pairs(source):
                    if isinstance(k, yaml.ScalarNode) and k.value not in names:
                        names.add(k.value)
                        yield k, v
    yield from explicit
