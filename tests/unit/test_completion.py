"""Shell completion, generated from the parser, completes commands, lab's subcommands, options and files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from enforcer.cli import main


def complete(script: str, words: list[str], cwd: Path) -> list[str]:
    """What bash offers for ``words`` (the last one being typed), through the generated function."""
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f'{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _enforce; printf "%s\\n" "${{COMPREPLY[@]}}"'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, cwd=cwd, check=True)
    return done.stdout.split()


def test_bash_completion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "site.yml").write_text("")
    assert complete(script, ["enforce", "pl"], tmp_path) == ["plan"]
    assert "--limit" in complete(script, ["enforce", "apply", "--l"], tmp_path)
    assert complete(script, ["enforce", "lab", "g"], tmp_path) == ["generate"]
    assert complete(script, ["enforce", "lab", "generate", "--ven"], tmp_path) == ["--vendor"]
    assert complete(script, ["enforce", "plan", "playbooks/si"], tmp_path) == ["playbooks/site.yml"]
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("autoload -U +X bashcompinit")
