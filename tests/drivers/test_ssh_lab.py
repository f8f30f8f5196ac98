"""The ssh client driver against a real OpenSSH server on loopback: host keys, atomic files, rollback.

The host's "service" here is three files and shell commands (``running`` exists while it runs, each
reload appends to ``reloads``), so that each test sees exactly what the driver ran; sshd's own log is
the ground truth of what reached the server before authentication.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from enforcer.credentials.guard import LoginGuard
from enforcer.credentials.keyring import Keyring
from enforcer.credentials.secret import Secret
from enforcer.drivers.base import DriverOptions
from enforcer.drivers.client import ClientDriver, Held
from enforcer.drivers.registry import client_for
from enforcer.drivers.ssh import SshClient
from enforcer.errors import DeviceError
from enforcer.lab.sshd import SshServer, free_port, host_key_pair
from enforcer.model import TLS, Account, Client, ConfigFile, Device, Hold, LockPolicy, ServiceCommands, SshSettings

pytestmark = pytest.mark.lab

OLD, NEW = "Old-Cam-Pass#41", "New-Cam-Pass@77"
TEMPLATE = """\
cameras:
{% for c in credentials %}  {{ c.device }}:
    ffmpeg:
      inputs:
        - path: {{ ("rtsp://" ~ c.user ~ ":" ~ c.password ~ "@" ~ c.address ~ ":554/live") | tojson }}
          roles: [detect]
    onvif: {host: {{ c.address }}, port: {{ c.port }}, user: {{ c.user }}, password: {{ c.password | tojson }}}
{% endfor %}"""


@dataclass
class Host:
    """A real sshd and the folder that stands for the host's disk and service."""

    root: Path
    server: SshServer
    key: str  # the client's private key
    known_hosts: Path

    @property
    def config(self) -> Path:
        return self.root / "etc" / "config.yml"

    @property
    def svc(self) -> Path:
        return self.root / "svc"

    def reloads(self) -> int:
        path = self.svc / "reloads"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def running(self) -> bool:
        return (self.svc / "running").exists()

    def commands(self, **overrides: str) -> ServiceCommands:
        svc = self.svc
        base = ServiceCommands(
            status=f"test -f {svc}/running",
            stop=f"rm -f {svc}/running",
            start=f"touch {svc}/running",
            reload=f"echo reloaded >> {svc}/reloads",
            validate=f"grep -q '^cameras:' {self.config}",
        )
        return replace(base, **overrides)

    def client(self, *, template: str = TEMPLATE, mode: str = "0600", **commands: str) -> Client:
        settings = SshSettings(
            user=self.server.user,
            known_hosts=self.known_hosts,
            files=(ConfigFile(str(self.config), self.root / "frigate.yml.j2", mode, template),),
            commands=self.commands(**commands),
            port=self.server.port,
            key=Secret(self.key, "vault:secrets/fleet.vault#enforcer-ssh-key"),
        )
        return Client("s1", "frigate", "ssh", (Hold("cam1", "admin"), Hold("cam2", "admin")), settings, "127.0.0.1")

    def sshd_saw(self, *fragments: str) -> bool:
        log = self.server.log()
        return any(f in log for f in fragments)


def camera(name: str, address: str, password: str) -> Device:
    return Device(
        site="s1",
        name=name,
        role="camera",
        vendor="hikvision",
        model="DS-2CD2146G2-ISU",
        address=address,
        port=10080,
        scheme="http",
        tls=TLS(),
        accounts=(Account("admin", "administrator", Secret(password, "vault")),),
        lock_policy=LockPolicy(True, 5, 30),
        firmware=None,
        isolation="client",
        unlock="wait",
    )


def held(password: str = NEW) -> list[Held]:
    return [
        Held(camera(n, a, password), "admin", Secret(password, "vault"))
        for n, a in (("cam1", "127.10.0.2"), ("cam2", "127.10.0.3"))
    ]


def driver(client: Client) -> ClientDriver:
    keyring = Keyring(guard=LoginGuard())
    return client_for("ssh")(client, keyring=keyring, options=DriverOptions(timeout=5.0))


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    private, _ = host_key_pair()
    key, authorized = host_key_pair()
    server = SshServer(
        tmp_path / "sshd", "127.0.0.1", free_port("127.0.0.1"), host_key=private, authorized_keys=authorized
    )
    server.start()
    known = tmp_path / "repo" / "known_hosts"
    known.parent.mkdir()
    known.write_text(server.known_hosts_line())
    h = Host(tmp_path, server, key, known)
    (tmp_path / "etc").mkdir()
    h.svc.mkdir()
    (h.svc / "running").touch()
    h.config.write_text(f"cameras: {{cam1: {{onvif: {{host: 127.10.0.2, user: admin, password: {OLD}}}}}}}\n")
    h.config.chmod(0o640)
    try:
        yield h
    finally:
        server.stop()


def test_registered_as_ssh() -> None:
    assert client_for("ssh") is SshClient and SshClient.updatable


def test_update_installs_atomically_keeps_the_previous_file_and_reloads(host: Host) -> None:
    before, inode = host.config.read_text(), host.config.stat().st_ino
    with _closing(driver(host.client())) as d:
        outcome = d.update(held())
    assert outcome.changed and "1 of 1 files written, reloaded" in outcome.detail
    text = host.config.read_text()
    assert f"rtsp://admin:{NEW}@127.10.0.2:554/live" in text and OLD not in text
    assert host.config.stat().st_ino != inode  # renamed over the target, never rewritten in place
    assert stat.S_IMODE(host.config.stat().st_mode) == 0o600
    previous = Path(str(host.config) + ".enforcer-previous")
    assert previous.read_text() == before and stat.S_IMODE(previous.stat().st_mode) == 0o640
    assert not [p for p in host.config.parent.iterdir() if p.name.endswith(".new")]
    assert host.reloads() == 1
    with _closing(driver(host.client())) as d:
        again = d.update(held())
    assert not again.changed and host.config.read_text() == text
    assert previous.read_text() == before  # nothing written, nothing shifted


def test_facts_name_whom_the_file_holds_and_whether_it_runs(host: Host) -> None:
    with _closing(driver(host.client())) as d:
        d.update(held())
        facts = d.facts(held())
    assert facts.running is True
    assert [(p.address, p.user) for p in facts.stored] == [("127.10.0.2", "admin"), ("127.10.0.3", "admin")]
    assert NEW not in repr(facts)


def test_a_missing_folder_is_found_at_facts_before_anything_changes(host: Host) -> None:
    client = host.client()
    assert isinstance(client.settings, SshSettings)
    elsewhere = replace(client.settings.files[0], path=str(host.root / "nowhere" / "config.yml"))
    moved = replace(client, settings=replace(client.settings, files=(elsewhere,)))
    with pytest.raises(DeviceError, match=f"facts: {host.root / 'nowhere'} does not exist on .*: create it"):
        driver(moved).facts(held())


def test_a_host_known_hosts_does_not_name_is_never_connected_to(host: Host) -> None:
    other, _ = host_key_pair()
    host.known_hosts.write_text(f"[127.0.0.1]:{host.server.port + 1} {_public(other)}\n")
    with pytest.raises(DeviceError, match=r"holds no key for \[127.0.0.1\]:\d+: .*nothing was sent") as err:
        driver(host.client()).facts(held())
    assert err.value.step == "facts" and err.value.device == "frigate"
    assert not host.sshd_saw("Connection from")


def test_a_known_hosts_file_that_cannot_be_read_connects_nowhere(host: Host) -> None:
    host.known_hosts.write_text(f"[127.0.0.1]:{host.server.port} ssh-ed25519 not!base64\n")
    with pytest.raises(DeviceError, match=r"known_hosts known_hosts cannot be read \(InvalidHostKey\)"):
        driver(host.client()).facts(held())
    assert not host.sshd_saw("Connection from")


def test_a_changed_host_key_is_refused_before_any_authentication(host: Host) -> None:
    impostor, _ = host_key_pair()
    host.known_hosts.write_text(f"[127.0.0.1]:{host.server.port} {_public(impostor)}\n")
    before = host.config.read_text()
    with pytest.raises(DeviceError, match=r"shows host key SHA256:.*not the one known_hosts holds.*nothing was sent"):
        driver(host.client()).update(held())
    assert host.sshd_saw("Connection from")  # it got as far as the key exchange
    assert not host.sshd_saw("publickey", "Accepted", "Failed", "password", "userauth")  # and no further
    assert host.config.read_text() == before and host.reloads() == 0


def test_a_key_the_host_refuses_is_named(host: Host) -> None:
    stranger, _ = host_key_pair()
    client = host.client()
    assert isinstance(client.settings, SshSettings)
    refused = replace(client, settings=replace(client.settings, key=Secret(stranger, "vault:x#k")))
    with pytest.raises(DeviceError, match=f"refused the SSH login as {host.server.user} \\(key\\)"):
        driver(refused).facts(held())


def test_a_failing_reload_rolls_the_host_back_and_reloads_it_again(host: Host) -> None:
    before = host.config.read_text()
    once = host.svc / "fail-once"
    once.touch()
    fail = "echo 'frigate: restart failed' >&2; exit 1"
    reload = f"if [ -f {once} ]; then rm {once}; {fail}; fi; echo r >> {host.svc}/reloads"
    with pytest.raises(DeviceError) as err, _closing(driver(host.client(reload=reload))) as d:
        d.update(held())
    message = str(err.value)
    assert "update: the reload command exited 1 (frigate: restart failed)" in message
    assert f"the host was rolled back to its previous files ({host.config}) and reloaded" in message
    assert host.config.read_text() == before
    assert host.reloads() == 1  # the reload after the rollback, with the previous file


def test_a_template_rendering_a_config_the_host_refuses_is_rolled_back_without_a_reload(host: Host) -> None:
    before = host.config.read_text()
    broken = "camras:\n{% for c in credentials %}  {{ c.device }}: {{ c.password | tojson }}\n{% endfor %}"
    with pytest.raises(DeviceError) as err, _closing(driver(host.client(template=broken))) as d:
        d.update(held())
    assert "update: the validate command exited 1" in str(err.value)
    assert "rolled back to its previous files" in str(err.value)
    assert host.config.read_text() == before and host.reloads() == 0  # the running service never saw it


def test_a_template_that_fails_to_render_leaves_the_host_untouched(host: Host) -> None:
    before, inode = host.config.read_text(), host.config.stat().st_ino
    with pytest.raises(DeviceError, match=r"template frigate\.yml\.j2 failed: .*the host was not touched"):
        driver(host.client(template="{{ credentials[0].pasword }}")).update(held())
    assert host.config.read_text() == before and host.config.stat().st_ino == inode
    assert not Path(str(host.config) + ".enforcer-previous").exists()


def test_a_new_file_rolled_back_is_removed(host: Host) -> None:
    host.config.unlink()
    with pytest.raises(DeviceError, match="rolled back"):
        driver(host.client(reload="exit 1")).update(held())
    assert not host.config.exists()


def test_isolate_stops_release_starts_only_what_ran(host: Host) -> None:
    with _closing(driver(host.client())) as d:
        standing = d.standing(held())
        assert standing == {"running": True}
        assert d.isolate(held()).changed and not host.running()
        assert not d.isolate(held()).changed  # idempotent: run again after a crash
        d.update(held())
        assert host.reloads() == 0  # a stopped service reads its files when it starts
        assert d.release(held(), standing).changed and host.running()
        assert d.verify(held()) == "connected again"
    (host.svc / "running").unlink()
    with _closing(driver(host.client())) as d:
        standing = d.standing(held())
        assert standing == {"running": False}
        assert not d.isolate(held()).changed
        assert not d.release(held(), standing).changed and not host.running()  # left as it was
        assert d.verify(held()) == "stopped, as before the run"


def test_no_secret_in_any_error_or_log_line(host: Host, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    leak = f"cat {host.config}; exit 1"  # a reload that prints the file it was given
    with pytest.raises(DeviceError) as err, _closing(driver(host.client(reload=leak))) as d:
        d.update(held())
    assert "rolled back" in str(err.value)
    texts = [str(err.value), *(r.getMessage() for r in caplog.records)]
    assert any("paramiko" in r.name for r in caplog.records)  # its log was on, and is clean
    for text in texts:
        assert NEW not in text and OLD not in text and "PRIVATE KEY" not in text


def _public(private: str) -> str:
    from enforcer.lab.sshd import public_line

    return public_line(private)


class _closing:
    """``with _closing(driver) as d``: the driver closed after the block."""

    def __init__(self, d: ClientDriver) -> None:
        self.d = d

    def __enter__(self) -> ClientDriver:
        return self.d

    def __exit__(self, *exc: Any) -> None:
        self.d.close()
