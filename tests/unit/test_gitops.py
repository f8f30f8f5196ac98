"""The GitOps examples are what they say: the pre-commit hook and the CI jobs run enforce commands that exist,
with exit 2 of plan taken as "changes pending", not a failure."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from enforcer.cli import parser

ROOT = Path(__file__).resolve().parents[2]


def commands(text: str) -> list[list[str]]:
    """Every ``enforce …`` invocation in a script, as argv (shell variables kept as words)."""
    found = []
    for match in re.finditer(r"(?<![\w-])enforce ([^\n;|&>]+)", text):
        words = shlex.split(match.group(1).replace("${{", "").replace("}}", ""))
        found.append(words)
    return found


def parses(argv: list[str]) -> bool:
    try:
        parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def test_the_pre_commit_hooks_run_validate_and_secrets_check() -> None:
    hooks: Any = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [(h["id"], h["entry"], h["pass_filenames"]) for h in hooks] == [
        ("enforce-validate", "enforce validate", False),
        ("enforce-secrets-check", "enforce secrets check", False),
    ]
    config: Any = yaml.safe_load((ROOT / "examples" / "gitops" / "pre-commit-config.yaml").read_text())
    used = config["repos"][0]["hooks"]
    assert [u["id"] for u in used] == [h["id"] for h in hooks]
    assert all(parses([*h["entry"].split()[1:], *u["args"]]) for h, u in zip(hooks, used, strict=True))


def test_the_ci_examples_run_enforce_commands_that_exist() -> None:
    github: Any = yaml.safe_load((ROOT / "examples" / "gitops" / "github-actions.yml").read_text())
    gitlab: Any = yaml.safe_load((ROOT / "examples" / "gitops" / "gitlab-ci.yml").read_text())
    assert set(github["jobs"]) == {"validate", "plan"} and {"validate", "plan"} <= set(gitlab)
    scripts = [s.get("run", "") for job in github["jobs"].values() for s in job["steps"]]
    scripts += ["\n".join(gitlab[job]["script"]) for job in ("validate", "plan")]
    invoked = [argv for text in scripts for argv in commands(text)]
    assert {argv[0] for argv in invoked} == {"validate", "secrets", "plan"}
    assert all(parses(argv) for argv in invoked), invoked
    for text in scripts:
        if "enforce plan" in text:
            assert "-eq 2" in text  # plan's exit 2 (changes pending) is not a failure
