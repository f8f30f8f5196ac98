"""A small valid MSP repo in a temporary folder, which each bad-input test breaks in one place."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from enforcer.cli import main

SECRETS = {
    "NW_ADMIN": "Adm1n-Secret-773",
    "NW_OPERATOR": "Op3rator-Sec-441",
    "NW_CAMERA": "Cam3ra-Secret-99",
}

IMAGE = b"ENFORCER-LAB-FIRMWARE\nmodel=DS-7608NXI-I2\nversion=V4.62.210\nbuild=build 230619\n\n" + b"\0" * 64

INVENTORY = """\
organisation: test-msp
secrets: {env: [NW_*]}
defaults:
  accounts:
    admin: {level: administrator, password: !secret "env:NW_ADMIN"}
    operator: {level: operator, password: !secret "env:NW_OPERATOR"}
  cameras:
    accounts:
      admin: {password: !secret "env:NW_CAMERA"}
  lock_policy: {enabled: true, max_attempts: 5, lock_minutes: 30}
firmware:
  DS-7608NXI-I2: {version: V4.62.210, image: fw.dav, sha256: %(sha)s}
sites:
  hq:
    vars: {net: 10.1.0}
    recorders:
      nvr: {vendor: hikvision, model: DS-7608NXI-I2, address: "{{ net }}.10"}
    cameras:
      cam1: {vendor: annke, model: C800, address: "{{ net }}.21", recorder: nvr, channel: 1}
      cam2: {vendor: hikvision, model: DS-2CD2146G2-ISU, address: "{{ net }}.22", recorder: nvr, channel: 2}
    clients:
      desk: {kind: manual, what: iVMS-4200 at the desk, holds: [nvr]}
"""

PLAYBOOK = """\
- name: Converge
  inventory: inventory.yml
  enforce: [credentials, lock_policy, firmware]
"""


@dataclass
class Repo:
    """A repo on disk: ``edit`` rewrites the inventory, ``run`` calls the CLI in-process."""

    root: Path
    capsys: pytest.CaptureFixture[str]

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yml"

    @property
    def playbook(self) -> Path:
        return self.root / "site.yml"

    def text(self) -> str:
        return self.inventory.read_text()

    def write(self, text: str) -> None:
        self.inventory.write_text(textwrap.dedent(text))

    def replace(self, old: str, new: str) -> None:
        text = self.text()
        assert old in text, f"fixture does not contain {old!r}"
        self.inventory.write_text(text.replace(old, new, 1))

    def run(self, *args: str) -> tuple[int, str, str]:
        code = main([*args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def line_of(self, needle: str) -> int:
        """1-based line of the first line containing ``needle``."""
        for number, line in enumerate(self.text().splitlines(), 1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} not in inventory")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Repo:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fw.dav").write_bytes(IMAGE)
    (tmp_path / "inventory.yml").write_text(INVENTORY % {"sha": hashlib.sha256(IMAGE).hexdigest()})
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    return Repo(tmp_path, capsys)


AssertLeakFree = Callable[[str], None]


@pytest.fixture
def assert_no_secret() -> AssertLeakFree:
    def check(text: str) -> None:
        for name, value in SECRETS.items():
            assert value not in text, f"secret {name} leaked"

    return check
