"""The templating fast path: ``{{ name }}`` substitutions rendered without jinja2, exactly as jinja2 would.

Every device renders its own address and its inherited secret references, so a fleet's load is mostly
these; the fast path must give what jinja2 gives, or step aside (``None``) and let jinja2 render it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.config import limits, templating
from enforcer.config.templating import TemplateError, render, render_file, shared_totals, substitute

NAMES = ["net", "site", "device", "vault", "lab", "range", "self", "not", "in", "true", "None", "loop", "x_1"]
VALUES = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2))
HOLES = st.builds(
    lambda name, left, right: "{{" + left + name + right + "}}",
    st.sampled_from(NAMES),
    st.sampled_from(["", " ", "  ", "\t", "- ", "\n"]),
    st.sampled_from(["", " ", " -", "\n", " | upper "]),
)
LITERALS = st.text(alphabet=st.sampled_from(list("ab.:/#-_ {}%\n\r\t")), max_size=6)
TEXTS = st.lists(st.one_of(HOLES, LITERALS), max_size=6).map("".join)


def _outcome(render_with: Any, text: str, context: dict[str, Any]) -> str:
    """The rendered text, or the error's message: both must be the same either way."""
    try:
        return str(render_with(text, context))
    except TemplateError as exc:
        return f"error: {exc}"


@settings(max_examples=400, deadline=None)
@given(text=TEXTS, context=st.dictionaries(st.sampled_from(NAMES), VALUES))
def test_substitute_gives_what_jinja2_gives_or_steps_aside(text: str, context: dict[str, Any]) -> None:
    fast = substitute(text, context)
    if fast is not None:
        assert fast == render_file(text, context)
    if templating.is_template(text):
        assert _outcome(render, text, context) == _outcome(render_file, text, context)


def test_plain_holes_are_substituted_and_the_rest_left_to_jinja2() -> None:
    context = {"net": "10.0.1", "vault": "v.vault", "device": "cam-1", "site": "hq"}
    assert substitute("{{ net }}.10", context) == "10.0.1.10"
    assert substitute("vault:{{vault}}#{{ device }}/admin", context) == "vault:v.vault#cam-1/admin"
    for text in (
        "{{ net | upper }}",
        "{{ missing }}",
        "{% if x %}{% endif %}",
        "{{ true }}",
        "{{ self }}",
        "a}b{{ net }}",
    ):
        assert substitute(text, context) is None, text


def test_a_substitution_compiles_no_template() -> None:
    templating._compiled.cache_clear()
    assert render("{{ lab }}.0.1", {"lab": "127.10"}) == "127.10.0.1"
    assert templating._compiled.cache_info().currsize == 0
    assert render("{{ lab | upper }}", {"lab": "x"}) == "X"
    assert templating._compiled.cache_info().currsize == 1


def test_a_substitution_counts_against_the_loads_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_TEMPLATE_OUTPUT_TOTAL", 100)
    with shared_totals() as totals:
        for _ in range(9):
            render("{{ x }}", {"x": "y" * 10})
        assert totals.size == 90
        with pytest.raises(TemplateError, match="together built more than 100 characters"):
            render("{{ x }}", {"x": "y" * 11})
