"""YAML loading that remembers where every key came from, and refuses what could hurt the loader.

Errors must name file, line and key, so loading keeps a side table from each key path to its line.
Secret tags become plain mappings (``!secret "env:X"`` → ``{"secret": "env:X"}``, ``!vault |`` →
``{"vault": "..."}``) so the JSON Schema can insist that passwords are references, never plaintext,
and so the same file can be written without tags by tools that do not know them.

An inventory may come from an unreviewed pull request, so a file is bounded before it is trusted
(:mod:`enforcer.config.limits`): its size, its characters, its nesting, and how many values its
aliases expand to (a 2 KB "billion laughs" would otherwise build a billion values). Keys must be
strings: ``yes:`` or ``1:`` read as a boolean or a number would silently never match a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from enforcer.config import limits
from enforcer.config.diagnostics import Diagnostics, Location

KeyPath = tuple[str | int, ...]

#: What YAML allows in a stream (tab, newlines, printable Unicode); anything else is refused.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
_SHOWN_DEPTH = 10  # a key path in a message: enough to find the place, short enough to read


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


class Refused(Exception):
    """A limit was reached at ``mark``; the message says which."""

    def __init__(self, mark: yaml.Mark, message: str, keypath: KeyPath | None = None) -> None:
        super().__init__(message)
        self.mark, self.keypath = mark, keypath


class _BoundedComposer(Composer):
    """A composer bounded in depth and in the number of nodes, before any value is built."""

    depth = 0
    nodes = 0
    counted = True  # bound the number of nodes too (else only the depth)
    alias_uses: dict[tuple[int, int], yaml.Mark]  # (parent node, index or key node) -> where the alias is

    def compose_document(self) -> yaml.Node | None:
        self.alias_uses = {}
        return super().compose_document()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        events: Any = self  # the parser the composer is mixed with
        if events.check_event(yaml.AliasEvent) and index is not None:
            # The node an alias returns carries the anchor's mark; remember where the alias is.
            self.alias_uses[(id(parent), id(index) if isinstance(index, yaml.Node) else index)] = (
                events.peek_event().start_mark
            )
        if not events.check_event(yaml.AliasEvent):
            self.nodes += 1
            mark = events.peek_event().start_mark
            if self.counted and self.nodes > limits.MAX_YAML_VALUES:
                raise Refused(mark, _too_many())
            if self.depth >= limits.MAX_YAML_DEPTH:
                raise Refused(mark, f"nested more than {limits.MAX_YAML_DEPTH} levels deep")
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        assert node is not None
        return node


try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: the same events, slower

    class Loader(_BoundedComposer, yaml.SafeLoader):
        """SafeLoader whose node tree we walk ourselves, so marks survive construction."""

else:

    class Loader(_BoundedComposer, CParser, SafeConstructor, Resolver):  # type: ignore[no-redef]
        """libyaml's parser (six times faster, half the memory of PyYAML's own on a large
        inventory) under Python's composer, whose node tree we walk ourselves so that marks
        survive construction and the bounds above apply."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)


def _too_many() -> str:
    return (
        f"the document builds more than {limits.MAX_YAML_VALUES:,} values (each use of an alias counts "
        f"again, a long string once per {limits.YAML_CHARS_PER_VALUE} characters): split the inventory into "
        "several files, or use fewer aliases"
    )


def load(path: Path, diagnostics: Diagnostics) -> Document | None:
    """Parse ``path``; YAML errors and duplicate keys go to ``diagnostics`` (None if unparsable)."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(limits.MAX_FILE_BYTES + 1)
    except OSError as exc:
        diagnostics.error(Location(path, 1, ()), f"cannot read file: {exc.strerror or exc}")
        return None
    if len(raw) > limits.MAX_FILE_BYTES:
        text = raw[: limits.MAX_FILE_BYTES].decode("utf-8", errors="replace")
        line = text.count("\n") + 1
        diagnostics.error(
            Location(path, line, _top_key(text, line)),
            f"file is larger than {limits.MAX_FILE_BYTES // 1024:,} KB (the limit is passed on this line)",
            "split the inventory into a folder of files, one per customer",
        )
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        head = raw[: exc.start].decode("utf-8")
        diagnostics.error(Location(path, line, _keypath_at(head, len(head))), "file is not UTF-8 text")
        return None
    return loads(text, path, diagnostics)


def loads(text: str, path: Path, diagnostics: Diagnostics) -> Document | None:
    """Parse YAML text as if read from ``path``."""
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        clean = _NOT_PRINTABLE.sub(" ", text)
        diagnostics.error(
            Location(path, line, _keypath_at(clean, bad.start())),
            f"control character U+{ord(bad.group()):04X} in the text",
            "a YAML file holds printable text only: remove it, or write it as an escape in a double-quoted string",
        )
        return None
    doc = Document(path, None)
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Builder(loader, doc, diagnostics).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        keypath = _keypath_at(text, mark.index) if mark else ()
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        diagnostics.error(Location(path, line, keypath), f"YAML syntax error: {problem}{context}")
        return None
    except yaml.YAMLError as exc:
        diagnostics.error(Location(path, 1, ()), f"YAML error: {exc}")
        return None
    except Refused as exc:
        keypath = exc.keypath if exc.keypath is not None else _keypath_at(text, exc.mark.index)
        diagnostics.error(Location(path, exc.mark.line + 1, keypath), str(exc))
        return None
    finally:
        loader.dispose()
    return doc


_MAP, _SEQ, _MERGE = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
Pair = tuple[yaml.Node, yaml.Node, "yaml.Mark | None"]


@dataclass
class _Builder:
    """Builds values from the node tree, counting each one; aliases and merge keys make copies, so
    a value reached through one is counted again, and refused (at the alias) beyond the limit."""

    loader: Loader
    doc: Document
    diagnostics: Diagnostics
    built: int = 0
    _open: set[int] = field(default_factory=set)  # nodes being built: meeting one again is a cycle
    _entry: tuple[KeyPath, yaml.Mark] | None = None  # the outermost alias being expanded, and where

    def build(self, node: yaml.Node, keypath: KeyPath, use: yaml.Mark | None = None) -> Any:
        """``node`` as a value at ``keypath``; ``use`` is where an alias to it was written, if one was."""
        if use is not None and self._entry is None:
            self._entry = (keypath, use)
            try:
                return self.build(node, keypath, use)
            finally:
                self._entry = None
        doc, diagnostics = self.doc, self.diagnostics
        line = (use or node.start_mark).line + 1
        text = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
        self._count(use or node.start_mark, keypath, 1 + text // limits.YAML_CHARS_PER_VALUE)
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
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if node.tag not in (_MAP, _SEQ):
                tag = node.tag.replace("tag:yaml.org,2002:", "!!")
                diagnostics.error(Location(doc.path, line, keypath), f"cannot read value: unknown tag {tag}")
                return None
            if id(node) in self._open:
                recursive = "a YAML alias refers to a value that contains it (a recursive alias)"
                raise Refused(use or node.start_mark, recursive, keypath)
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._build_mapping(node, keypath)
                uses = self.loader.alias_uses
                return [self.build(item, (*keypath, i), uses.get((id(node), i))) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        if node.tag == _STR:
            return node.value  # what the constructor gives a string, without its bookkeeping (most values are)
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else str(exc)
            if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
                problem = f"a number of {len(node.value):,} digits is too long"
            problem = (problem or "").replace("tag:yaml.org,2002:", "!!")
            diagnostics.error(Location(doc.path, line, keypath), f"cannot read value: {problem}")
            return None

    def _count(self, mark: yaml.Mark, keypath: KeyPath, weight: int = 1) -> None:
        self.built += weight
        if self.built > limits.MAX_YAML_VALUES:
            at, mark = self._entry or (keypath, mark)
            raise Refused(mark, _too_many(), at)

    def _build_mapping(self, node: yaml.MappingNode, keypath: KeyPath) -> dict[Any, Any]:
        doc, diagnostics = self.doc, self.diagnostics
        result: dict[Any, Any] = {}
        for key_node, value_node, use in self._pairs(node, keypath):
            line = key_node.start_mark.line + 1
            key = self.build(key_node, (*keypath, "<key>"))
            if not isinstance(key, str):
                source = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
                if isinstance(key, list | dict) or not source:
                    diagnostics.error(Location(doc.path, line, keypath), "a key must be a plain name")
                else:
                    diagnostics.error(
                        Location(doc.path, line, (*keypath, source)),
                        f"key {source} reads as a {_kind(key)}, not a name",
                        f'quote it: "{source}"',
                    )
                continue
            child = (*keypath, key)
            if key in result:
                first = doc.lines.get(child, line)
                diagnostics.error(
                    Location(doc.path, line, child), f"duplicate key {key!r} (first defined on line {first})"
                )
                continue
            doc.lines[child] = line
            result[key] = self.build(value_node, child, use or self.loader.alias_uses.get((id(node), id(key_node))))
        doc.lines.pop((*keypath, "<key>"), None)
        return result

    def _pairs(
        self, node: yaml.MappingNode, keypath: KeyPath, at: yaml.Mark | None = None, seen: frozenset[int] = frozenset()
    ) -> Iterator[Pair]:
        """Key/value nodes, with YAML merge keys (``<<: *anchor``) expanded in place, explicit keys
        winning, each with the mark of the merge that brought it (None if written here). A merged
        pair counts as a value built; a mapping merged into itself is refused."""
        seen = seen | {id(node)}
        explicit = [(k, v, at) for k, v in node.value if k.tag != _MERGE]
        names = {k.value for k, _, _ in explicit if isinstance(k, yaml.ScalarNode)}
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    continue
                merge = at or key_node.start_mark
                if id(source) in seen:
                    raise Refused(merge, "a YAML merge key (<<) merges a mapping into itself", keypath)
                for k, v, _ in self._pairs(source, keypath, merge, seen):
                    self._count(merge, keypath)
                    if isinstance(k, yaml.ScalarNode) and k.value not in names:
                        names.add(k.value)
                        yield k, v, merge
        yield from explicit


def _kind(value: Any) -> str:
    kinds = {bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _keypath_at(text: str, index: int) -> KeyPath:
    """The key path open at character ``index``, replayed from the parser's events up to there.

    Used where the document cannot be built (a syntax error, a limit, a bad character), so that the
    message still names the key a person should look at.
    """
    frames: list[list[Any]] = []  # [is_mapping, key or index, expecting a key]
    try:
        for event in yaml.parse(text, Loader=Loader):
            if event.start_mark is not None and event.start_mark.index >= index:
                break
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                if frames:
                    frames.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            if frames:
                top = frames[-1]
                if not top[0]:
                    top[1] += 1
                elif top[2]:  # a key: a scalar names the path; a mapping or list as a key shows as ?
                    top[1], top[2] = (event.value if isinstance(event, yaml.ScalarEvent) else "?"), False
                    if not isinstance(event, yaml.CollectionStartEvent):
                        continue
                else:
                    top[2] = True
            if isinstance(event, yaml.MappingStartEvent):
                frames.append([True, None, True])
            elif isinstance(event, yaml.SequenceStartEvent):
                frames.append([False, -1, False])
    except yaml.YAMLError:
        pass
    path = tuple(f[1] for f in frames if f[1] is not None and f[1] != -1)
    return path if len(path) <= _SHOWN_DEPTH else (*path[:_SHOWN_DEPTH], "…")


def _top_key(text: str, line: int) -> KeyPath:
    """The top-level key whose block holds ``line``, found without parsing (for files too large to)."""
    for candidate in reversed(text.splitlines()[:line]):
        match = _TOP_KEY.match(candidate)
        if match:
            return (match.group(1),)
    return ()
