"""An SSH client's settings in the inventory: what validation demands before any host or device is touched."""

from __future__ import annotations

from pathlib import Path

from enforcer.config.diagnostics import Diagnostics
from enforcer.config.inventory import load_inventory
from enforcer.model import ServiceCommands, SshSettings
from tests.unit.conftest import Repo

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKNWS1NRUrkcXRHNydkbyBtNchUNzAKZzXLpZo9IKWXm"
TEMPLATE = "{% for c in credentials %}{{ c.device }}={{ c.user }}:{{ c.password }}@{{ c.address }}\n{% endfor %}"
FRIGATE = """\
      frigate:
        kind: ssh
        address: 10.1.0.40
        port: 2222
        user: enforcer
        key: !secret "env:NW_ADMIN"
        files: [{path: /config/config.yml, template: frigate.j2}]
%(extra)s        holds: [cam1, cam2]
      desk:"""


def add_frigate(repo: Repo, extra: str = "        service: frigate\n", known_hosts: str | None = None) -> None:
    repo.replace("      desk:", FRIGATE % {"extra": extra})
    (repo.root / "frigate.j2").write_text(TEMPLATE)
    text = f"[10.1.0.40]:2222 {HOST_KEY}\n" if known_hosts is None else known_hosts
    (repo.root / "known_hosts").write_text(text)


def errors(repo: Repo) -> str:
    code, out, err = repo.run("validate", "site.yml")
    assert code == 1, out + err
    assert "Traceback" not in err
    return err


def settings(repo: Repo) -> SshSettings:
    diagnostics = Diagnostics()
    inventory = load_inventory(repo.inventory, diagnostics)
    assert inventory is not None and not diagnostics.error_count
    [site] = inventory.sites
    client = next(c for c in site.clients if c.name == "frigate")
    assert isinstance(client.settings, SshSettings)
    return client.settings


def test_a_systemd_unit_gives_every_command_and_known_hosts_defaults_to_the_folder(repo: Repo) -> None:
    add_frigate(repo)
    code, _, err = repo.run("validate", "site.yml")
    assert code == 0, err
    ssh = settings(repo)
    assert ssh.commands == ServiceCommands.systemd("frigate")
    assert ssh.commands.status == "systemctl is-active --quiet frigate"
    assert ssh.known_hosts == (repo.root / "known_hosts").resolve()
    assert ssh.port == 2222 and ssh.user == "enforcer" and ssh.key is not None and ssh.password is None
    [file] = ssh.files
    assert (file.path, file.mode, file.source) == ("/config/config.yml", "0600", TEMPLATE)


def test_named_commands_override_the_unit_and_need_no_unit(repo: Repo) -> None:
    commands = "        status: frigatectl status\n        stop: frigatectl stop\n        start: frigatectl start\n"
    commands += (
        "        reload: frigatectl restart\n        validate: frigatectl validate\n        check: frigatectl check\n"
    )
    add_frigate(repo, extra=commands)
    assert settings(repo).commands == ServiceCommands(
        "frigatectl status",
        "frigatectl stop",
        "frigatectl start",
        "frigatectl restart",
        validate="frigatectl validate",
        check="frigatectl check",
    )


def test_without_a_unit_each_command_is_required_with_the_way_out(repo: Repo) -> None:
    add_frigate(repo, extra="        stop: frigatectl stop\n")
    err = errors(repo)
    line = repo.line_of("      frigate:")
    for command in ("status", "start", "reload"):
        assert f"inventory.yml:{line}: sites.hq.clients.frigate: '{command}' is required" in err, err
    assert "'stop' is required" not in err
    assert "service: NAME" in err


def test_a_login_needs_a_key_or_a_password(repo: Repo) -> None:
    add_frigate(repo)
    repo.replace('        key: !secret "env:NW_ADMIN"\n', "")
    assert "sites.hq.clients.frigate: 'key' is required" in errors(repo)
    repo.replace("        user: enforcer\n", '        user: enforcer\n        password: !secret "env:NW_ADMIN"\n')
    assert repo.run("validate", "site.yml")[0] == 0


def test_the_host_must_be_in_known_hosts_before_anything_connects(repo: Repo) -> None:
    add_frigate(repo, known_hosts=f"10.1.0.40 {HOST_KEY}\n")  # port 22's entry: not this host
    err = errors(repo)
    assert f"inventory.yml:{repo.line_of('      frigate:')}: sites.hq.clients.frigate: " in err
    assert "known_hosts known_hosts holds no key for [10.1.0.40]:2222" in err
    assert "ssh-keyscan -p 2222 10.1.0.40 >> known_hosts" in err


def test_known_hosts_missing_or_outside_the_folder_is_refused(repo: Repo, tmp_path: Path) -> None:
    add_frigate(repo, extra="        service: frigate\n        known_hosts: keys/hosts\n")
    assert "known_hosts file keys/hosts not found" in errors(repo)
    repo.replace("known_hosts: keys/hosts", "known_hosts: ../hosts")
    err = errors(repo)
    assert f"inventory.yml:{repo.line_of('known_hosts: ../hosts')}: sites.hq.clients.frigate.known_hosts: " in err
    assert "climbs out" in err


def test_a_known_hosts_line_that_is_not_one_is_named(repo: Repo) -> None:
    add_frigate(repo, known_hosts=f"[10.1.0.40]:2222 {HOST_KEY}\n10.1.0.41 ssh-ed25519 not-base64!\n")
    assert "known_hosts known_hosts: line 2 is not a known_hosts entry" in errors(repo)


def test_hashed_known_hosts_entries_are_read(repo: Repo) -> None:
    from paramiko.hostkeys import HostKeys

    hashed = HostKeys.hash_host("[10.1.0.40]:2222")
    add_frigate(repo, known_hosts=f"{hashed} {HOST_KEY}\n")
    assert repo.run("validate", "site.yml")[0] == 0


def test_a_template_is_read_once_and_rendered_masked_at_validation(repo: Repo) -> None:
    add_frigate(repo)
    (repo.root / "frigate.j2").write_text("{{ credentials[0].pasword }}\n")
    err = errors(repo)
    assert f"inventory.yml:{repo.line_of('template: frigate.j2')}: sites.hq.clients.frigate.files[0].template: " in err
    assert "template frigate.j2: undefined variable" in err
