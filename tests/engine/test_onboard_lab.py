"""enforce init and enforce import against the lab: a new repository takes a site whose passwords the MSP
has among others; each device is read with one attempt per password through the guard, the working ones
land in the credential store, and the site is then planned and rotated with no lock."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from enforcer.cli import main
from enforcer.config import vault
from enforcer.credentials.store import CredentialStore
from tests.engine.conftest import ENFORCER, locks

pytestmark = pytest.mark.lab


def test_init_writes_a_repository_that_validates_and_keeps_its_password_out_of_git(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "msp"
    assert main(["init", str(root), "--organisation", "acme"]) == 0
    password = (root / "inventory" / ".vault-password").read_text().strip()
    assert stat.S_IMODE((root / "inventory" / ".vault-password").stat().st_mode) == 0o600
    assert vault.is_vault((root / "inventory" / "credentials.vault").read_text())
    assert vault.decrypt((root / "inventory" / "secrets" / "acme.vault").read_text(), password.encode()) == b"{}\n"
    assert (root / ".github" / "workflows" / "enforce.yml").read_text().startswith("# .github/workflows/enforce.yml")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    tracked = subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True, text=True).stdout
    assert ".vault-password" not in tracked and "inventory/credentials.vault" in tracked
    assert main(["validate", str(root / "playbooks" / "site.yml")]) == 0
    os.chdir(root)
    assert main(["secrets", "check", "playbooks/site.yml"]) == 0
    assert main(["init", str(root)]) == 1  # never over an existing repository
    assert "is not empty" in capsys.readouterr().err


def test_import_reads_a_recorder_and_its_cameras_then_rotate_converges(lab: Any, tmp_path: Path) -> None:
    fleet = lab(sites=1, cameras=2, problems=(), thresholds=[7], vendor="hikvision")
    root = tmp_path / "msp"
    assert main(["init", str(root), "--organisation", "acme"]) == 0
    recorder = next(d for d in fleet.spec.devices if d.role == "recorder")
    cameras = [d for d in fleet.spec.devices if d.role == "camera"]
    admin = {d.name: next(a.password for a in d.accounts if a.name == "admin") for d in fleet.spec.devices}
    known = ["Wrong-Password-1", admin[recorder.name], *(admin[c.name] for c in cameras)]
    listing = tmp_path / "known.txt"
    listing.write_text("\n".join(known) + "\n")
    playbook = str(root / "playbooks" / "site.yml")
    code, output = fleet.run(
        "import", playbook, "--site", "hq", "--vendor", "hikvision", "--recorder", recorder.address,
        "--port", str(recorder.port), "--passwords", str(listing),
    )  # fmt: skip
    assert code == 0, output
    text = (root / "inventory" / "hq.yml").read_text()
    assert f'address: "{recorder.address}"' in text and "recorder: nvr-01, channel: 1" in text
    password = (root / "inventory" / ".vault-password").read_text().strip().encode()
    store = CredentialStore.load(root / "inventory" / "credentials.vault", password)
    stored = {d.split("/")[1]: e.current.reveal() for d, _, e in store.entries() if e.current is not None}
    assert stored["nvr-01"] == admin[recorder.name]
    assert sorted(stored[f"cam-0{i}"] for i in (1, 2)) == sorted(admin[c.name] for c in cameras)
    failures = [e for e in fleet.events() if e["event"] == "auth_failed" and e["source"] == ENFORCER]
    for device in fleet.spec.devices:  # one attempt per password: only those before the one that works failed
        spent = [e for e in failures if e["device"] == device.name]
        assert len(spent) <= known.index(admin[device.name]), device.name
    for secret in known:
        assert secret not in output

    assert main(["validate", playbook]) == 0
    code, output = fleet.run("rotate", playbook, "--yes")
    assert code == 0, output
    code, output = fleet.run("apply", playbook, "--yes")  # the inventory's lock policy: rotate sets passwords only
    assert code == 0 and "lock_policy" in output and "account" not in output, output
    assert fleet.run("plan", playbook)[0] == 0
    assert not locks(fleet.events())
    assert fleet.fleet.password(recorder.name, "admin") != admin[recorder.name]
