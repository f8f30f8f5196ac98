"""A table of one-line cells drawn as rich draws its default table, without rich's layout per cell.

Why: ``enforce facts`` prints a table per site, and rich's Table measured, wrapped and padded every
cell through its whole rendering pipeline: 0.8 s of a 1,000-device run, more than reading the devices.
Here a cell's markup is parsed once per distinct text (most cells repeat: ``ok``, ``open``, a model),
columns are as wide as their widest cell, and each row is written as segments directly: the same
text and styles rich writes, which a test holds it to.

When the table does not fit as it is (a narrow terminal), when it has no rows, when a cell or the
title has more than one line or a tab, or when the console cannot draw box characters, rich's own
Table lays it out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import render
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["RowTable"]

_BOX = box.HEAVY_HEAD
_PAD = 1  # a space each side of a cell, as rich's Table


@lru_cache(maxsize=4096)
def _parsed(markup: str) -> Text:
    """A cell's markup parsed once (never changed after: cells are only rendered)."""
    return render(markup)


class RowTable:
    """A titled table of one-line cells (rich markup), each column at least its ``min_width``."""

    def __init__(self, title: str, columns: Sequence[tuple[str, int]]) -> None:
        self.title = title
        self.columns = tuple(columns)
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def rich_table(self) -> Table:
        """The same table as rich's Table: what is drawn when this one cannot be drawn directly."""
        from rich.table import Table  # only when the table cannot be drawn directly

        table = Table(title=self.title, title_justify="left", expand=False)
        for name, width in self.columns:
            table.add_column(name, min_width=width, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        header = tuple(render(name) for name, _ in self.columns)
        body = [tuple(_parsed(cell) for cell in row) for row in self.rows]
        title = console.render_str(self.title, style="table.title", highlight=False)
        widths = [
            max(minimum, *(cell_len(row[i].plain) for row in (header, *body))) + 2 * _PAD
            for i, (_, minimum) in enumerate(self.columns)
        ]
        total = sum(widths) + len(widths) + 1
        cells = (cell.plain for row in (header, *body) for cell in row)
        if (
            not self.rows
            or total > options.max_width
            or options.ascii_only
            or options.legacy_windows
            or cell_len(title.plain) > total
            or any("\n" in text or "\t" in text for text in (title.plain, *cells))
        ):
            yield self.rich_table()
            return
        if title.plain:  # the title as rich draws it (one call a table); nothing for an empty one
            yield from console.render(title, options.update(width=total, highlight=False, height=None, justify="left"))
        yield from self._lines(console, header, body, widths)

    def _lines(
        self, console: Console, header: tuple[Text, ...], body: list[tuple[Text, ...]], widths: list[int]
    ) -> Iterator[Segment]:
        new_line, null = Segment.line(), Style.null()
        border = console.get_style("")
        yield Segment(_BOX.get_top(widths), border)
        yield new_line
        bold = console.get_style("table.header")
        yield Segment(_BOX.head_left, border)
        for i, (cell, width) in enumerate(zip(header, widths, strict=True)):
            if i:
                yield Segment(_BOX.head_vertical, border)
            yield Segment(" " * _PAD, bold)
            yield Segment(cell.plain + " " * (width - 2 * _PAD - cell_len(cell.plain)), bold)
            yield Segment(" " * _PAD, bold)
        yield Segment(_BOX.head_right, border)
        yield new_line
        yield Segment(_BOX.get_row(widths, "head", edge=True), border)
        yield new_line
        rendered: dict[int, list[Segment]] = {}
        pad = Segment(" " * _PAD, null)
        for row in body:
            yield Segment(_BOX.mid_left, border)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
                if i:
                    yield Segment(_BOX.mid_vertical, border)
                yield pad
                segments = rendered.get(id(cell))
                if segments is None:
                    segments = rendered[id(cell)] = list(cell.render(console))
                yield from segments
                yield Segment(" " * (width - _PAD - cell_len(cell.plain)), null)
            yield Segment(_BOX.mid_right, border)
            yield new_line
        yield Segment(_BOX.get_bottom(widths), border)
        yield new_line
