"""The facts table drawn directly is what rich's Table draws, character for character and style for style."""

from __future__ import annotations

import io
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape

from enforcer.report.table import RowTable

CELLS = st.one_of(
    st.sampled_from(
        ["[green]ok[/]", "[bold red]default[/]", "[dim]?[/]", "3×30m", "2/9 up [yellow](offline)[/]", "", "–", "摄像机"]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=14).map(escape),
)
COLUMNS = [("device", 10), ("model", 8), ("pw", 7), ("lock", 4)]


def _drawn(renderable: object, *, width: int, terminal: bool) -> str:
    out = io.StringIO()
    console = Console(
        file=out, width=width, force_terminal=terminal, color_system="truecolor", highlight=False, soft_wrap=True
    )
    console.print(renderable)
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(
    title=st.text(alphabet="ab ·-[]/", max_size=30),
    rows=st.lists(st.tuples(CELLS, CELLS, CELLS, CELLS), min_size=1, max_size=6),
    width=st.sampled_from([200, 60, 30]),
    terminal=st.booleans(),
)
def test_drawn_as_richs_table(title: str, rows: list[tuple[str, ...]], width: int, terminal: bool) -> None:
    table = RowTable(escape(title), COLUMNS)
    for row in rows:
        table.add_row(*row)
    assert _drawn(table, width=width, terminal=terminal) == _drawn(table.rich_table(), width=width, terminal=terminal)


def test_a_fleets_tables_are_drawn_in_a_fraction_of_richs_time() -> None:
    tables = []
    for site in range(100):
        table = RowTable(f"play · site-{site:03}", COLUMNS)
        for device in range(10):
            table.add_row(f"cam-{site:03}-{device:02}", "DS-2CD2146G2-ISU", "[green]ok[/]", "[green]open[/]")
        tables.append(table)
    start = time.process_time()
    ours = "".join(_drawn(t, width=200, terminal=True) for t in tables)
    middle = time.process_time()
    richs = "".join(_drawn(t.rich_table(), width=200, terminal=True) for t in tables)
    end = time.process_time()
    assert ours == richs
    assert middle - start < (end - middle) / 3
