"""The example inventory is free of errors in an editor: its YAML language server reads ``!secret`` and
``!vault`` as scalar tags and validates against ``inventory.editor.schema.json``, which must not drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from enforcer.config.schema import editor_schema

ROOT = Path(__file__).resolve().parents[2]
EDITOR = ROOT / "enforcer" / "schemas" / "inventory.editor.schema.json"


class _EditorLoader(yaml.SafeLoader):
    """As the YAML language server with ``yaml.customTags: ["!secret scalar", "!vault scalar"]``."""


for _tag in ("!secret", "!vault"):
    _EditorLoader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))


def test_the_editor_schema_file_is_generated_from_the_schema() -> None:
    assert json.loads(EDITOR.read_text()) == editor_schema(), (
        "regenerate it: python -c 'import json; from enforcer.config.schema import editor_schema; "
        f'open("{EDITOR.relative_to(ROOT)}", "w").write(json.dumps(editor_schema(), indent=2) + "\\n")\''
    )


def test_the_example_inventory_has_no_error_in_an_editor() -> None:
    for path in sorted((ROOT / "inventories" / "example").glob("*.yml")):
        assert path.read_text().startswith("# yaml-language-server: $schema=../../schemas/inventory.editor")
        data: Any = yaml.load(path.read_text(), Loader=_EditorLoader)
        errors = [e.message for e in jsonschema.Draft202012Validator(editor_schema()).iter_errors(data)]
        assert errors == [], (path, errors)
    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text())
    assert set(settings["yaml.customTags"]) == {"!secret scalar", "!vault scalar"}
