"""Tests of the fleet generator: the repository validates, matches the lab spec, and each seeded problem
means exactly what ``enforcer.lab.generate`` documents. Fast: no lab server is started."""

from __future__ import annotations

import ipaddress
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from enforcer.config import vault
from enforcer.config.credstore import CredentialStore, Entry
from enforcer.config.diagnostics import Diagnostics
from enforcer.config.playbook import load_playbook
from enforcer.config.secrets import Secret
from enforcer.lab import generate as gen
from enforcer.lab.firmware import parse_image
from enforcer.lab.hik_security import is_risky
from enforcer.lab.spec import PROBLEMS, LabClient, LabDevice, LabSpec
from enforcer.model import Device, Inventory, Playbook

SITES, CAMERAS, SEED = 4, 4, 11


@dataclass
class Generated:
    out: Path
    spec: LabSpec
    playbook: Playbook
    store: CredentialStore
    password: str

    @property
    def inventory(self) -> Inventory:
        return self.playbook.plays[0].inventory

    def devices(self) -> Iterator[tuple[Device, LabDevice]]:
        actual = {(d.site, d.name): d for d in self.spec.devices}
        for site in self.inventory.sites:
            for device in site.devices:
                yield device, actual[(site.name, device.name)]


def load(out: Path) -> Generated:
    diagnostics = Diagnostics()
    playbook = load_playbook(out / "site.yml", diagnostics)
    assert [str(d) for d in diagnostics] == []
    assert playbook is not None
    password = (out / ".vault-password").read_text(encoding="utf-8").strip()
    store = CredentialStore.load(out / "inventory" / "credentials.vault", password.encode())
    return Generated(out, LabSpec.load(out / "lab.spec.json"), playbook, store, password)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    out = tmp_path_factory.mktemp("fleet") / "msp"
    spec = gen.generate(out, sites=SITES, cameras=CAMERAS, seed=SEED, problems=PROBLEMS, https_share=0.5)
    generated = load(out)
    assert generated.spec == spec
    return generated


def desired(device: Device, account: str) -> str:
    acc = device.account(account)
    assert acc is not None and acc.password is not None
    return acc.password.reveal()


def actual(device: LabDevice, account: str) -> str:
    return next(a.password for a in device.accounts if a.name == account)


def stored(fleet: Generated, device: Device, account: str) -> Entry:
    entry = fleet.store.get(device.id, account)
    assert entry is not None and entry.pending is None
    return entry


def secret(value: Secret | None) -> str:
    assert value is not None
    return value.reveal()


def test_the_repository_validates_and_selects_every_site(fleet: Generated) -> None:
    play = fleet.playbook.plays[0]
    assert play.sites == tuple(f"site-{i:03}" for i in range(1, SITES + 1))
    assert play.enforce == {"credentials", "lock_policy", "firmware"}
    assert play.serial == (1, "10%", "100%")
    assert [len(s.devices) for s in fleet.inventory.sites] == [1 + CAMERAS] * SITES
    assert sorted(p.name for p in fleet.out.iterdir()) == [
        ".gitignore",
        ".vault-password",
        "inventory",
        "lab.spec.json",
        "site.yml",
    ]
    assert "/.vault-password" in (fleet.out / ".gitignore").read_text().splitlines()
    assert stat.S_IMODE((fleet.out / ".vault-password").stat().st_mode) == 0o600
    fleet_yml = (fleet.out / "inventory" / "fleet.yml").read_text()
    assert 'vault_password: !secret "file:../.vault-password"' in fleet_yml
    assert "credential_store: credentials.vault" in fleet_yml
    assert f"enforce lab generate --sites {SITES} --cameras {CAMERAS} --vendor hikvision --seed {SEED}" in fleet_yml


def test_inventory_endpoints_and_settings_match_the_spec(fleet: Generated) -> None:
    pairs = list(fleet.devices())
    assert len(pairs) == len(fleet.spec.devices) == SITES * (1 + CAMERAS)
    by_name = {d.name: d for d in fleet.spec.devices}
    for want, lab in pairs:
        assert (want.address, want.port, want.scheme) == (lab.address, lab.port, lab.scheme)
        assert (want.vendor, want.model, want.role) == (lab.vendor, lab.model, lab.role)
        assert want.port == (gen.HTTPS_PORT if lab.scheme == "https" else gen.HTTP_PORT)
        ca = want.tls.ca.resolve() if want.tls.ca else None
        assert ca == ((fleet.out / "lab.cert.pem").resolve() if lab.scheme == "https" else None)
        assert [a.name for a in want.accounts] == [a.name for a in lab.accounts]
        assert want.lock_policy.max_attempts == lab.lock_policy.max_attempts
        assert want.lock_policy.lock_minutes * 60 == lab.lock_policy.lock_seconds
        assert 3 <= lab.lock_policy.max_attempts <= 7
        assert lab.profile.namespace == ("isapi" if lab.role == "recorder" else "hikvision")
        assert want.firmware is not None
        image = parse_image(want.firmware.image.read_bytes())
        assert (image.model, image.version) == (lab.model, want.firmware.version)
        if want.role == "camera":
            assert want.recorder is not None and want.channel is not None
            channel = next(c for c in by_name[want.recorder].channels if c.id == want.channel)
            assert (channel.camera, channel.address, channel.port, channel.user) == (
                lab.name,
                lab.address,
                lab.port,
                "admin",
            )
            assert channel.password == actual(lab, "admin")
    assert {d.scheme for d in fleet.spec.devices if d.role == "recorder"} == {"http", "https"}


def test_every_device_and_viewer_has_its_own_loopback_address(fleet: Generated) -> None:
    devices = [d.address for d in fleet.spec.devices]
    viewers = [c.source for c in fleet.spec.clients]
    assert len(set(devices + viewers)) == len(devices) + len(viewers)
    assert gen.ENFORCER_SOURCE not in devices + viewers
    for address in devices + viewers:
        assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8")
    assert all(10 <= int(a.split(".")[1]) < 200 for a in devices)
    assert all(int(a.split(".")[1]) >= 200 for a in viewers)
    assert [d.address for d in fleet.spec.devices[: 1 + CAMERAS]] == [f"127.10.0.{d}" for d in range(1, CAMERAS + 2)]


def test_each_site_gets_each_problem_once(fleet: Generated) -> None:
    for site in fleet.inventory.sites:
        seen = [p for d in fleet.spec.devices if d.site == site.name for p in d.problems if p != "stale_viewer"]
        seen += [p for c in fleet.spec.clients if c.site == site.name for p in c.problems]
        assert sorted(seen) == sorted(PROBLEMS)
        admins = [
            d.name for d in fleet.spec.devices if d.site == site.name and set(d.problems) & set(gen.CREDENTIAL_PROBLEMS)
        ]
        assert len(admins) == len(gen.CREDENTIAL_PROBLEMS)  # on different devices


def test_credentials_mean_exactly_what_each_problem_says(fleet: Generated) -> None:
    clients = {(c.site, c.target): c for c in fleet.spec.clients}
    by_name = {d.name: d for d in fleet.spec.devices}
    for want, lab in fleet.devices():
        problems = set(lab.problems)
        admin, entry = actual(lab, "admin"), stored(fleet, want, "admin")
        wanted = desired(want, "admin")
        assert len(wanted) == 16 and not is_risky(wanted)
        if "default_password" in problems:
            assert admin == lab.profile.default_password == secret(entry.current) != wanted
        elif "weak_password" in problems:
            assert admin in gen.WEAK_PASSWORDS and is_risky(admin)
            assert admin == secret(entry.current) != wanted
        elif "unknown_password" in problems:
            assert secret(entry.current) != admin and secret(entry.previous) == admin
            assert secret(entry.current) == wanted
            assert lab.lock_policy.max_attempts >= 4  # current, then previous, within the budget
        elif "stale_channel" in problems:
            assert lab.role == "camera" and want.recorder is not None
            assert admin == secret(entry.current) != wanted
            assert next(c for c in by_name[want.recorder].channels if c.camera == lab.name).password == admin
        else:
            assert admin == secret(entry.current) == wanted and entry.previous is None
        if lab.role == "recorder":
            operator, entry = actual(lab, "operator"), stored(fleet, want, "operator")
            assert operator == secret(entry.current) and entry.previous is None
            viewer: LabClient | None = clients.get((lab.site, lab.name))
            if "stale_viewer" in problems:
                assert viewer is not None and viewer.problems == ["stale_viewer"]
                assert (viewer.kind, viewer.user, viewer.password) == ("viewer", "operator", operator)
                assert viewer.interval_seconds == gen.VIEWER_INTERVAL
                assert desired(want, "operator") != operator
                site = fleet.inventory.site(lab.site)
                assert site is not None
                (manual,) = site.clients
                assert (manual.kind, manual.address, manual.name) == ("manual", viewer.source, viewer.name)
                assert [(h.device, h.user) for h in manual.holds] == [(lab.name, "operator")]
                assert manual.what
            else:
                assert viewer is None and desired(want, "operator") == operator


def test_firmware_and_locks_mean_exactly_what_each_problem_says(fleet: Generated) -> None:
    def version(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.removeprefix("V").split("."))

    for want, lab in fleet.devices():
        assert want.firmware is not None and want.lock_policy.enabled
        if "old_firmware" in lab.problems:
            assert version(lab.firmware_version) < version(want.firmware.version)
        else:
            assert lab.firmware_version == want.firmware.version
        if "lock_disabled" in lab.problems:
            assert not lab.lock_policy.enabled and lab.profile.lock_can_be_disabled
        else:
            assert lab.lock_policy.enabled
        if "locked" in lab.problems:
            assert lab.locked_sources == ["127.0.0.1"] and lab.profile.lock_scope != "account"
            assert "lock_disabled" not in lab.problems
        else:
            assert lab.locked_sources == []


def _passwords(fleet: Generated) -> set[str]:
    found = {a.password for d in fleet.spec.devices for a in d.accounts}
    found |= {c.password for c in fleet.spec.clients}
    found |= {desired(d, a.name) for d, _ in fleet.devices() for a in d.accounts}
    found |= {secret(v) for _, _, e in fleet.store.entries() for v in (e.current, e.previous) if v is not None}
    return found


def test_no_password_is_in_clear_in_the_repository(fleet: Generated) -> None:
    generated = {p for p in _passwords(fleet) if len(p) == 16} | {fleet.password}
    assert len(generated) > len(fleet.spec.devices)
    files = [p for p in (fleet.out / "inventory").rglob("*") if p.is_file()] + [fleet.out / "site.yml"]
    assert len(files) >= 6
    for path in files:
        data = path.read_bytes()
        leaked = [p for p in generated if p.encode() in data]
        assert not leaked, f"{path.relative_to(fleet.out)} holds a password in clear"
    for name in ("credentials.vault", "secrets/fleet.vault"):
        text = (fleet.out / "inventory" / name).read_text(encoding="ascii")
        assert text.startswith("$ANSIBLE_VAULT;1.1;AES256\n") and vault.is_vault(text)
        # The weak and default passwords are dictionary words: they may be inside, but only encrypted.
        assert all(w not in text for w in ("password", "admin", "qwertyui", "abcdefgh"))


def _snapshot(out: Path, password: bytes) -> dict[str, object]:
    files: dict[str, object] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        files[str(path.relative_to(out))] = (
            yaml.safe_load(vault.decrypt(data, password)) if vault.is_vault(data) else data
        )
    return files


def test_a_seed_reproduces_the_fleet(tmp_path: Path, fleet: Generated) -> None:
    again = tmp_path / "again"
    gen.generate(again, sites=SITES, cameras=CAMERAS, seed=SEED, problems=PROBLEMS, https_share=0.5)
    key = fleet.password.encode()
    assert _snapshot(again, key) == _snapshot(fleet.out, key)
    other = tmp_path / "other"
    gen.generate(other, sites=SITES, cameras=CAMERAS, seed=SEED + 1, problems=PROBLEMS, https_share=0.5)
    regenerated = load(other)
    assert regenerated.password != fleet.password
    assert not {p for p in _passwords(regenerated) if len(p) == 16} & _passwords(fleet)


def test_problem_share_and_thresholds(tmp_path: Path) -> None:
    share = {"locked": 0.5, "old_firmware": 0.0}
    spec = gen.generate(
        tmp_path / "f",
        sites=10,
        cameras=2,
        seed=3,
        problems=["locked", "weak_password", "old_firmware"],
        problem_share=share,
        thresholds=[3, 20],
    )
    sites_with = {
        p: {d.site for d in spec.devices if p in d.problems} for p in ("locked", "weak_password", "old_firmware")
    }
    assert [len(sites_with[p]) for p in ("locked", "weak_password", "old_firmware")] == [5, 10, 0]
    assert {d.lock_policy.max_attempts for d in spec.devices} == {3, 20}
    assert spec.clients == []
    header = (tmp_path / "f" / "inventory" / "fleet.yml").read_text()
    assert "--problem-share locked=0.5,old_firmware=0 --thresholds 3,20" in header
    assert gen.parse_share("locked=0.5,old_firmware=0") == share
    assert gen.parse_share(gen.format_share(0.25)) == 0.25
    load(tmp_path / "f")


def test_annke_fleet(tmp_path: Path) -> None:
    spec = gen.generate(tmp_path / "a", sites=2, cameras=6, vendor="annke", seed=5, problems=["stale_channel"])
    assert {d.vendor for d in spec.devices} == {"annke"}
    assert {d.model for d in spec.devices if d.role == "recorder"} == {"N48PAW"}
    assert {d.model for d in spec.devices if d.role == "camera"} <= {"C800", "CZ400"}
    inventory = load(tmp_path / "a").inventory
    assert {d.vendor for s in inventory.sites for d in s.devices} == {"annke"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"vendor": "dahua"}, "cannot simulate a Dahua fleet yet"),
        ({"vendor": "amcrest"}, "cannot simulate a Amcrest fleet yet"),
        ({"vendor": "mixed"}, "cannot simulate a mixed-vendor fleet yet"),
        ({"vendor": "axis"}, "unknown vendor 'axis'"),
        ({"problems": ["lockd"]}, "unknown problem 'lockd'"),
        ({"thresholds": [2, 5]}, "thresholds"),
        ({"thresholds": []}, "thresholds"),
        ({"cameras": 0, "problems": ["stale_channel"]}, "stale_channel needs at least one camera"),
        ({"cameras": 0, "problems": ["locked", "lock_disabled"]}, "two devices"),
        ({"cameras": 2, "problems": list(gen.CREDENTIAL_PROBLEMS)}, "need 4 devices per site"),
        ({"cameras": 254}, "cameras must be 0 to 253"),
        ({"sites": 0}, "sites must be"),
        ({"problem_share": 1.5}, "fraction"),
        ({"problem_share": {"bogus": 0.5}}, "unknown problem"),
        ({"organisation": "bad\nname"}, "organisation"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    kwargs: dict[str, object] = {"sites": 1, "cameras": 2, "seed": 1} | options
    with pytest.raises(ValueError, match=message):
        gen.generate(tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_parse_problems_and_a_used_folder(tmp_path: Path) -> None:
    assert gen.parse_problems("all") == PROBLEMS
    assert gen.parse_problems(" stale_viewer, locked ,") == ("locked", "stale_viewer")
    assert gen.parse_problems("") == ()
    with pytest.raises(ValueError, match="choose from"):
        gen.parse_problems("locked,bogus")
    with pytest.raises(ValueError, match="bad share"):
        gen.parse_share("locked=lots")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        gen.generate(tmp_path / "used", sites=1, cameras=1, seed=1)
    gen.generate(tmp_path / "fresh" / "nested", sites=1, cameras=0, seed=1)
    assert load(tmp_path / "fresh" / "nested").inventory.sites[0].cameras == ()


def test_a_thousand_devices_generate_in_well_under_a_few_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    spec = gen.generate(tmp_path / "big", sites=100, cameras=9, seed=2, problems=PROBLEMS, problem_share=0.1)
    elapsed = time.perf_counter() - started
    print(f"generated {len(spec.devices)} devices in {elapsed:.2f} s")
    assert len(spec.devices) == 1000
    assert elapsed < 5.0
    assert {d.model for d in spec.devices if d.role == "recorder"} == {"DS-7616NXI-I2"}
    assert sum(1 for d in spec.devices if "locked" in d.problems) == 10
    assert len(load(tmp_path / "big").inventory.sites) == 100
