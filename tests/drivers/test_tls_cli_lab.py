"""HTTPS trust (CA, pinned fingerprint, wrong pin) and ``enforce facts``: output, exit codes, no secret anywhere."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from enforcer.cli import main
from enforcer.config import vault
from enforcer.credentials.guard import LoginGuard
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.isapi._driver import IsapiDriver
from enforcer.errors import DeviceError
from enforcer.model import TLS

from .conftest import Repo, cert_fingerprint

pytestmark = pytest.mark.lab


def test_https_ca_pin_and_wrong_pin(repo: Callable[..., Repo]) -> None:
    r = repo(sites=1, cameras=1, https_share=1.0)
    [nvr] = [d for d in r.devices if d.role == "recorder"]
    assert nvr.scheme == "https" and nvr.tls.ca is not None
    pin = cert_fingerprint(r.out / "lab.cert.pem")
    for tls in (nvr.tls, TLS(fingerprint=pin), TLS(fingerprint=":".join(pin[i : i + 2] for i in range(0, 64, 2)))):
        device = dataclasses.replace(nvr, tls=tls)
        with IsapiDriver(device, keyring=r.credentials().keyring(LoginGuard()), options=DriverOptions()) as drv:
            assert drv.facts().model == r.lab(nvr.name).model
    wrong = dataclasses.replace(nvr, tls=TLS(fingerprint="0" * 64))
    with (
        IsapiDriver(wrong, keyring=r.credentials().keyring(LoginGuard()), options=DriverOptions()) as drv,
        pytest.raises(DeviceError, match="does not match the pinned fingerprint"),
    ):
        drv.facts()
    untrusted = dataclasses.replace(nvr, tls=TLS())  # system store: the lab's self-signed CA is not in it
    with (
        IsapiDriver(untrusted, keyring=r.credentials().keyring(LoginGuard()), options=DriverOptions()) as drv,
        pytest.raises(DeviceError, match="not trusted"),
    ):
        drv.facts()
    # nothing was sent to the devices we did not trust: no login, so no failure either
    assert [e for e in r.fleet.read_events() if e["event"] == "auth_failed"] == []


def secrets_of(r: Repo) -> set[str]:
    """Every password the lab, the inventory's vault and the credential store hold (long enough to grep)."""
    values: set[str] = set()
    for d in r.spec.devices:
        values |= {a.password for a in d.accounts} | {c.password for c in d.channels}
    values |= {c.password for c in r.spec.clients}
    key = (r.out / "inventory" / ".vault-password").read_text().strip()
    values.add(key)
    desired = yaml.safe_load(vault.decrypt((r.out / "inventory/secrets/fleet.vault").read_text(), key.encode()))
    values |= set(desired.values())
    for _, _, entry in r.store.entries():
        values |= {s.reveal() for s in (entry.current, entry.pending, entry.previous) if s is not None}
    # weak and factory passwords ("12345", "admin", "password") are words that appear in any text
    return {v for v in values if len(v) >= 10}


def test_enforce_facts_cli_never_prints_a_secret(
    repo: Callable[..., Repo], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    r = repo(sites=3, cameras=3, problems=["unknown_password", "locked", "default_password", "stale_channel"])
    caplog.set_level(logging.DEBUG)
    playbook = str(r.out / "site.yml")
    assert main(["facts", playbook]) == 1  # the locked devices fail
    table = capsys.readouterr()
    assert main(["facts", playbook, "--json"]) == 1
    raw = capsys.readouterr()
    doc = json.loads(raw.out)
    assert doc["ok"] is False
    [play] = doc["plays"]
    locked = {f"{d.site}/{d.name}" for d in r.with_problem("locked")}
    assert {f"{x['site']}/{x['device']}" for x in play["failures"]} == locked
    assert all("locked" in x["reason"] for x in play["failures"])
    unknown = [f"{d.site}/{d.name}" for d in r.with_problem("unknown_password") if f"{d.site}/{d.name}" not in locked]
    assert all(play["facts"][d]["login"]["candidate"] == "previous" for d in unknown)
    assert "site-001" in table.out and "previous" in table.out and "failed" in table.out
    assert "locked out" in table.out and f"of {len(r.devices)} devices" in table.out
    text = "\n".join([table.out, table.err, raw.out, raw.err, caplog.text, (r.out / "lab.events.jsonl").read_text()])
    leaked = [s for s in secrets_of(r) if s in text]
    assert leaked == [], f"{len(leaked)} secret values leaked"
    assert r.our_locks() == []


def test_enforce_facts_limit_and_bad_vault_password(
    repo: Callable[..., Repo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = repo(sites=2, cameras=1)
    assert main(["facts", str(r.out / "site.yml"), "--limit", "site-002", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and sorted(doc["plays"][0]["facts"]) == ["site-002/cam-002-01", "site-002/nvr-002"]
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    assert main(["facts", str(r.out / "site.yml"), "--vault-password-file", str(wrong)]) == 1
    assert [e for e in r.fleet.read_events() if e["source"] == "127.0.0.1"] == []
