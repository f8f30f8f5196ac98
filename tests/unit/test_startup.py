"""Start-up: ``enforce --version`` and ``--help`` import the parser's needs, not the library (0.43 s before),
and a command its own command module alone (``--version`` none: 0.08 s before, 0.04 s after).

Checked by what gets imported, not by a clock: a shared CI machine makes a timed test flaky.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import import_module

import pytest

from enforcer.cli import COMMANDS, parser
from enforcer.cli._common import Parser

#: What a command runs with, never what the command line is built from.
HEAVY = ("rich", "yaml", "jinja2", "jsonschema", "cryptography", "paramiko", "sqlite3", "asyncio", "http.client")
HEAVY_OURS = ("enforcer.engine", "enforcer.config", "enforcer.drivers", "enforcer.credentials", "enforcer.report")

PROBE = """
import json, sys
from enforcer.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["facts", "--help"], ["lab", "generate", "--help"]])
def test_the_command_line_is_built_without_the_library(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    assert done.stdout.strip()
    loaded = [m for m in modules if m.startswith(tuple(f"{h}." for h in HEAVY + HEAVY_OURS)) or m in HEAVY]
    assert loaded == []


@pytest.mark.parametrize(
    ("argv", "own"),
    [
        (["facts", "--help"], ["facts"]),
        (["plan", "--help"], ["apply"]),
        (["lab", "serve", "-h"], ["lab"]),
        (["--version"], []),
    ],
)
def test_a_command_imports_its_own_command_module_alone(argv: list[str], own: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    commands = [m for m in modules if m.startswith("enforcer.cli.") and not m.startswith("enforcer.cli._")]
    assert done.stdout.strip() and commands == [f"enforcer.cli.{module}" for module in own]


def _names(top: argparse.ArgumentParser) -> list[str]:
    return [name for a in top._actions if isinstance(a, argparse._SubParsersAction) for name in a.choices]


@pytest.mark.parametrize("argv", [["--help", "facts"], ["--he", "facts"], ["-vh", "facts"], ["nothing"], []])
def test_the_top_level_help_and_an_unknown_command_see_every_command(argv: list[str]) -> None:
    assert _names(parser(argv)) == list(COMMANDS)


def test_every_command_is_listed_with_the_module_that_registers_it() -> None:
    """COMMANDS is what lets a run import one module: a command missing from it would be missing from --help."""
    assert _names(parser()) == list(COMMANDS)
    for module in dict.fromkeys(COMMANDS.values()):
        alone = Parser(prog="enforce")
        import_module(f"enforcer.cli.{module}").register(alone.add_subparsers(parser_class=Parser))
        assert _names(alone) == [name for name, owner in COMMANDS.items() if owner == module]


CLIENT_KINDS = """
import json, sys
from enforcer.drivers.registry import client_kinds
kinds = client_kinds()
seen = [kinds.get("manual"), "paramiko" in sys.modules]
seen += [kinds["ssh"], "paramiko" in sys.modules, sorted(kinds)]
print(json.dumps(seen))
"""


def test_a_client_kinds_driver_is_imported_when_the_kind_is_looked_up() -> None:
    """The ssh driver imports paramiko: a fleet whose sites have no ssh client never pays for it."""
    done = subprocess.run([sys.executable, "-c", CLIENT_KINDS], capture_output=True, text=True, check=True)
    manual, before, ssh, after, kinds = json.loads(done.stdout)
    assert (manual, before, ssh, after) == (False, False, True, True) and {"manual", "ssh"} <= set(kinds)
