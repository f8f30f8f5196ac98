"""``enforce lab generate --clients ssh,viewer``: a Frigate-like host and a desktop viewer per site, holding the
site's current credentials, named in the repository as an MSP would name them. Fast: no lab is served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from enforcer.cli import main
from enforcer.config import vault
from enforcer.config.diagnostics import Diagnostics
from enforcer.config.playbook import load_playbook
from enforcer.lab.frigate import CONFIG, CTL, host_dir
from enforcer.lab.frigate.config import load as load_config
from enforcer.lab.generate import generator as gen
from enforcer.lab.generate.hosts import FRIGATE_TEMPLATE, KEY
from enforcer.lab.spec import LabSpec
from enforcer.lab.sshd import public_line
from enforcer.model import ManualSettings, SshSettings


def generated(out: Path, **options: object) -> tuple[LabSpec, dict[str, object]]:
    spec = gen.generate(out, **({"sites": 2, "cameras": 3, "seed": 4, "clients": ("ssh", "viewer")} | options))  # type: ignore[arg-type]
    key = (out / "inventory" / ".vault-password").read_text().strip().encode()
    desired = yaml.safe_load(vault.decrypt((out / "inventory/secrets/fleet.vault").read_text(), key))
    return spec, desired


def test_every_site_gets_a_frigate_host_holding_its_cameras_as_they_are(tmp_path: Path) -> None:
    out = tmp_path / "msp"
    spec, desired = generated(out)
    assert [h.name for h in spec.hosts] == ["frigate-001", "frigate-002"]
    for host in spec.hosts:
        cameras = [d for d in spec.devices if d.site == host.site and d.role == "camera"]
        assert [(c.device, c.user, c.password) for c in host.cameras] == [
            (d.name, "admin", d.accounts[0].password) for d in cameras
        ]
        assert host.address.endswith(".250") and host.address.rsplit(".", 1)[0] == cameras[0].address.rsplit(".", 1)[0]
        assert host.authorized_key == public_line(str(desired[KEY]))  # the fleet's key, from the vault
    assert LabSpec.load(out / "lab.spec.json") == spec
    assert spec.known_hosts_file == "inventory/known_hosts"
    known = (out / spec.known_hosts_file).read_text()
    for host in spec.hosts:
        assert f"[{host.address}]:2222 {public_line(host.host_key)}" in known


def test_the_repository_names_each_host_as_an_msp_would_and_validates(tmp_path: Path) -> None:
    out = tmp_path / "msp"
    spec, _ = generated(out, problems=("stale_viewer",))
    diagnostics = Diagnostics()
    playbook = load_playbook(out / "site.yml", diagnostics)
    assert [str(d) for d in diagnostics] == [] and playbook is not None
    for site in playbook.plays[0].inventory.sites:
        frigate = next(c for c in site.clients if c.kind == "ssh")
        assert isinstance(frigate.settings, SshSettings)
        folder = host_dir(out.resolve(), frigate.name)
        assert frigate.address is not None and frigate.address.endswith(".250") and frigate.settings.port == 2222
        assert [f.path for f in frigate.settings.files] == [str(folder / CONFIG)]
        assert frigate.settings.files[0].source == FRIGATE_TEMPLATE
        assert frigate.settings.commands.stop == f"{folder / CTL} stop"
        assert frigate.settings.commands.reload == f"{folder / CTL} restart"
        assert frigate.settings.commands.check == f"{folder / CTL} check"
        assert frigate.settings.key is not None and frigate.settings.key.ref.endswith(f"#{KEY}")
        assert [h.device for h in frigate.holds] == [d.name for d in site.cameras]
        manual = sorted(c.name for c in site.clients if isinstance(c.settings, ManualSettings))
        assert manual == [f"desk-{site.name[-3:]}", f"viewer-{site.name[-3:]}"]  # two viewers with stale_viewer
    desks = [c for c in spec.clients if c.name.startswith("desk-")]
    assert [(c.user, c.target) for c in desks] == [("admin", "nvr-001"), ("admin", "nvr-002")]


def test_the_template_renders_a_config_the_lab_host_reads_back(tmp_path: Path) -> None:
    """What enforcer will write is what the host's Frigate loads: the raw password, quoted where YAML needs."""
    from enforcer.config.clientfiles import render_client_file

    out = tmp_path / "msp"
    generated(out)
    playbook = load_playbook(out / "site.yml", Diagnostics())
    assert playbook is not None
    [site, _] = playbook.plays[0].inventory.sites
    frigate = next(c for c in site.clients if c.kind == "ssh")
    assert isinstance(frigate.settings, SshSettings)
    devices = {d.name: d for d in site.devices}
    tricky = "Ab1!#%+-.=@_x"  # every symbol the generator may draw, an '@' among them
    text = render_client_file(frigate.settings.files[0].source, frigate, devices, lambda device, user: tricky)
    logins = load_config(text, {})
    assert {(x.camera, x.host, x.user, x.password) for x in logins} >= {
        (d.name, d.address, "admin", tricky) for d in site.cameras
    }


def test_clients_leave_the_rest_of_the_fleet_as_the_seed_made_it(tmp_path: Path) -> None:
    plain = gen.generate(tmp_path / "plain", sites=2, cameras=3, seed=4, problems=("stale_viewer",))
    spec, _ = generated(tmp_path / "more", problems=("stale_viewer",))
    assert spec.devices == plain.devices


def test_bad_client_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown client kind 'vms': choose from milestone, ssh, viewer"):
        gen.parse_clients("ssh,vms")
    assert gen.parse_clients(" viewer, ssh ,") == ("ssh", "viewer")
    with pytest.raises(ValueError, match="ssh clients hold a site's cameras"):
        gen.generate(tmp_path / "none", sites=1, cameras=0, seed=1, clients=("ssh",))
    assert not (tmp_path / "none").exists()
    with pytest.raises(SystemExit) as exit:
        main(["lab", "generate", "--clients", "ssh,bogus", "--out", str(tmp_path / "x")])
    assert exit.value.code == 1
    assert "unknown client kind 'bogus'" in capsys.readouterr().err
    assert main(["lab", "generate", "--sites", "1", "--clients", "ssh", "--out", str(tmp_path / "y")]) == 0
    said = capsys.readouterr().out
    assert "4 devices, 1 clients" in said
    assert "--clients ssh" in (tmp_path / "y" / "inventory" / "fleet.yml").read_text()  # how to regenerate it
    assert json.loads((tmp_path / "y" / "lab.spec.json").read_text())["hosts"][0]["name"] == "frigate-001"
