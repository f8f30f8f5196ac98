"""Building one site's devices and clients from its layered settings, with every check that needs it.

Split from ``inventory`` so that file reading and cross-file rules stay apart from the per-site work:
templating, secret resolution, address and firmware checks, and the references between devices
and clients. The firmware images and client templates a site names must lie inside the inventory's
folder (see ``_confine``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

from enforcer.config import _confine
from enforcer.config._layers import SETTINGS, Layered, is_secret, plain_copy
from enforcer.config._sshbuild import check_files, ssh_settings
from enforcer.config._yaml import Document, KeyPath
from enforcer.config.diagnostics import Diagnostics, Location
from enforcer.config.secrets import GENERATED, SecretResolver
from enforcer.config.templating import is_template, render
from enforcer.credentials.secret import Secret
from enforcer.drivers.registry import client_for, driver_for
from enforcer.errors import SecretError, TemplateError
from enforcer.model import (
    TLS,
    Account,
    Client,
    ClientSettings,
    Device,
    Firmware,
    Hold,
    LockPolicy,
    ManualSettings,
    MilestoneSettings,
    Site,
    SshSettings,
)

Levels = Callable[[str], tuple[Layered, dict[str, Any]]]
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


@dataclass
class SiteBuilder:
    """Turns one site's YAML into model objects; problems go to ``diagnostics``."""

    name: str
    site: dict[str, Any]
    doc: Document
    base: Path
    organisation: str
    resolver: SecretResolver
    diagnostics: Diagnostics
    firmware: dict[str, tuple[Any, Document]]
    _secrets: dict[str, Secret | None] = field(default_factory=dict)
    _names: dict[str, Location] = field(default_factory=dict)

    def build(self, levels: Levels) -> Site:
        devices: list[Device] = []
        for role in ("recorder", "camera"):
            inherited, variables = levels(role)
            for dname, data in (self.site.get(f"{role}s") or {}).items():
                device = self._device(role, dname, data, inherited, variables)
                if device is not None:
                    devices.append(device)
        self._check_devices(devices)
        _, site_vars = levels("recorder")
        clients = [
            self._client(cname, data, site_vars, devices) for cname, data in (self.site.get("clients") or {}).items()
        ]
        built = tuple(c for c in clients if c)
        return Site(self.name, tuple(self.site.get("groups", [])), tuple(devices), built, self.site.get("region"))

    # devices -----------------------------------------------------------------------------------

    def _device(
        self, role: str, dname: str, data: dict[str, Any], inherited: Layered, variables: dict[str, Any]
    ) -> Device | None:
        at: KeyPath = ("sites", self.name, f"{role}s", dname)
        self._claim(dname, self.doc.where(at))
        layered = Layered(plain_copy(inherited.value), dict(inherited.origins))
        layered.overlay({k: v for k, v in data.items() if k in SETTINGS}, self.doc, at)
        context = {
            **variables,
            **(data.get("vars") or {}),
            "organisation": self.organisation,
            "site": self.name,
            "device": dname,
            "role": role,
            "vendor": data["vendor"],
            "model": data["model"],
        }
        here = self.doc.where(at)
        settings = self._render(layered.value, context, lambda rel: layered.where(rel, here))
        failures = self.diagnostics.error_count
        address = self._render(data["address"], context, lambda rel: self.doc.where((*at, "address")))
        if self.diagnostics.error_count == failures and not _valid_address(address):
            self.diagnostics.error(self.doc.where((*at, "address")), f"{address!r} is not an IP address or host name")
        accounts = self._accounts(
            settings["accounts"], lambda rel: layered.where(("accounts", *rel), here), data["vendor"]
        )
        tls = settings["tls"]
        scheme = settings["scheme"]
        return Device(
            site=self.name,
            name=dname,
            role=cast(Any, role),
            vendor=data["vendor"],
            model=data["model"],
            address=address,
            port=settings.get("port") or (443 if scheme == "https" else 80),
            scheme=scheme,
            tls=self._tls(tls),
            accounts=accounts,
            lock_policy=LockPolicy(**settings["lock_policy"]),
            firmware=self._firmware(data, at),
            isolation=settings["isolation"],
            unlock=settings["unlock"],
            recorder=data.get("recorder"),
            channel=data.get("channel"),
            channel_user=data.get("channel_user", "admin"),
            sdk_port=settings.get("sdk_port") or driver_for(data["vendor"]).sdk_port,
        )

    def _accounts(
        self, accounts: dict[str, Any], where: Callable[[KeyPath], Location], vendor: str
    ) -> tuple[Account, ...]:
        """The declared accounts; a password the vendor's firmware would refuse is an error here, so that
        no change starts that a device would stop halfway (the site isolated, nothing changed)."""
        rules = driver_for(vendor).password_rules
        out = []
        for name, spec in accounts.items():
            present = spec.get("present", True)
            if present and "level" not in spec:
                self.diagnostics.error(where((name,)), f"account {name!r} has no level", "add level: administrator")
            if present and "password" not in spec:
                self.diagnostics.error(where((name,)), f"account {name!r} has no password", "add password: !secret …")
            generated = spec.get("password") == GENERATED
            password = None
            if "password" in spec and not generated:
                password = self._secret(spec["password"], where((name, "password")))
            problem = rules.problem(password.reveal()) if password is not None and present else None
            if problem is not None:
                self.diagnostics.error(
                    where((name, "password")),
                    f"{vendor} firmware would refuse the password of {name!r}: {problem}",
                    "choose another password (the secret itself is never shown)",
                )
            out.append(Account(name, spec.get("level", "viewer"), password, present, generated and present))
        return tuple(out)

    def _tls(self, tls: dict[str, Any]) -> TLS:
        fingerprint = tls.get("fingerprint")
        if fingerprint:
            fingerprint = fingerprint.lower().removeprefix("sha256:").replace(":", "")
        return TLS(
            verify=tls.get("verify", True),
            ca=self.base / tls["ca"] if tls.get("ca") else None,
            fingerprint=fingerprint,
        )

    def _firmware(self, data: dict[str, Any], at: KeyPath) -> Firmware | None:
        if data.get("firmware") is False:
            return None
        if isinstance(data.get("firmware"), dict):
            return self._check_image(data["firmware"], self.doc, (*at, "firmware"))
        entry = self.firmware.get(data["model"])
        if entry is None:
            return None
        value, doc = entry
        return self._check_image(value, doc, ("firmware", data["model"]))

    def _check_image(self, entry: dict[str, Any], doc: Document, at: KeyPath) -> Firmware:
        image = self.base / entry["image"]
        expected = entry["sha256"].lower()
        resolved = self._inside(entry["image"], "firmware image", doc.where((*at, "image")))
        if resolved is not None and not resolved.is_file():
            self.diagnostics.error(doc.where((*at, "image")), f"firmware image {entry['image']} not found")
        elif resolved is not None:
            actual = _sha256(image, image.stat().st_mtime_ns, image.stat().st_size)
            if actual != expected:
                self.diagnostics.error(
                    doc.where((*at, "sha256")),
                    f"firmware image {entry['image']} has sha256 {actual}, not the {expected} declared",
                    "a wrong or corrupted download: fetch the image again or fix the checksum",
                )
        return Firmware(entry["version"], image, expected)

    def _check_devices(self, devices: list[Device]) -> None:
        by_name = {d.name: d for d in devices}
        endpoints: dict[tuple[str, int], str] = {}
        channels: dict[tuple[str, int], str] = {}
        for d in devices:
            at: KeyPath = ("sites", self.name, f"{d.role}s", d.name)
            other = endpoints.setdefault((d.address, d.port), d.name)
            if other != d.name:
                self.diagnostics.error(
                    self.doc.where((*at, "address")), f"address {d.address}:{d.port} is also used by {other}"
                )
            if d.recorder is None:
                continue
            recorder = by_name.get(d.recorder)
            if recorder is None or recorder.role != "recorder":
                recorders = ", ".join(r.name for r in devices if r.role == "recorder") or "none"
                self.diagnostics.error(
                    self.doc.where((*at, "recorder")),
                    f"recorder {d.recorder!r} does not exist in site {self.name}",
                    f"recorders here: {recorders}",
                )
                continue
            assert d.channel is not None
            taken = channels.setdefault((d.recorder, d.channel), d.name)
            if taken != d.name:
                self.diagnostics.error(
                    self.doc.where((*at, "channel")),
                    f"channel {d.channel} of {d.recorder} is already {taken}",
                )

    # clients -----------------------------------------------------------------------------------

    def _client(
        self, cname: str, data: dict[str, Any], variables: dict[str, Any], devices: list[Device]
    ) -> Client | None:
        at: KeyPath = ("sites", self.name, "clients", cname)
        self._claim(cname, self.doc.where(at))
        context = {**variables, "organisation": self.organisation, "site": self.name, "client": cname}
        values = self._render(data, context, lambda rel: self.doc.where((*at, *rel)))
        kind = data["kind"]
        default_user = data.get("device_user" if kind == "ssh" else "user") or "admin"
        holds = []
        by_name = {d.name: d for d in devices}
        for i, hold in enumerate(values["holds"]):
            device, user = (
                (hold, default_user) if isinstance(hold, str) else (hold["device"], hold.get("user", default_user))
            )
            target = by_name.get(device)
            if target is None:
                self.diagnostics.error(
                    self.doc.where((*at, "holds", i)),
                    f"client {cname} holds a credential for {device!r}, which is not a device of site {self.name}",
                    f"devices here: {', '.join(sorted(by_name)) or 'none'}",
                )
            elif target.account(user) is None:
                self.diagnostics.warning(
                    self.doc.where((*at, "holds", i)),
                    f"{device} declares no account {user!r}: this credential path is not managed",
                )
            else:
                self._check_held(cname, kind, target, user, self.doc.where((*at, "holds", i)))
            holds.append(Hold(device, user))
        secret = {k: self._secret(v, self.doc.where((*at, k))) for k, v in values.items() if is_secret(v)}

        def where(rel: KeyPath) -> Location:
            return self.doc.where((*at, *rel))

        settings: ClientSettings
        if kind == "milestone":
            tls = self._tls(values["tls"]) if "tls" in values else None
            settings = MilestoneSettings(values["url"], values.get("username"), secret.get("password"), tls)
        elif kind == "ssh":
            settings = ssh_settings(self.base, values, secret, where, self.diagnostics)
        else:
            settings = ManualSettings(values.get("what"), values.get("contact"))
        client = Client(self.name, cname, kind, tuple(holds), settings, values.get("address"))
        if isinstance(settings, SshSettings):
            check_files(client, by_name, where, self.diagnostics)
        return client

    def _check_held(self, cname: str, kind: str, device: Device, user: str, where: Location) -> None:
        """A declared password the client would refuse to store is an error here, so that no change starts that
        the client phase would stop halfway (the devices changed, the client left with the old password)."""
        try:
            rules = getattr(client_for(kind), "password_rules", None)
        except LookupError:
            return  # no driver for the kind: the plan blocks what it holds
        account = device.account(user)
        password = account.password if account is not None and account.present else None
        problem = rules.problem(password.reveal()) if rules is not None and password is not None else None
        if problem is not None:
            self.diagnostics.error(
                where,
                f"{cname} ({kind}) would refuse {device.name}'s {user} password: {problem}",
                f"choose a password for {device.name}'s {user} that both accept (the secret itself is never shown)",
            )

    # shared ------------------------------------------------------------------------------------

    def _inside(self, name: str, what: str, where: Location) -> Path | None:
        """``name`` resolved inside the inventory folder, or None after reporting why it is not."""
        try:
            return self.resolver.inside(name, what)
        except _confine.PathError as exc:
            self.diagnostics.error(where, str(exc))
            return None

    def _claim(self, name: str, where: Location) -> None:
        first = self._names.setdefault(name, where)
        if first is not where:
            self.diagnostics.error(
                where, f"name {name!r} is used twice in site {self.name}", f"first at line {first.line}"
            )

    def _render(
        self, value: Any, context: dict[str, Any], where: Callable[[KeyPath], Location], rel: KeyPath = ()
    ) -> Any:
        if isinstance(value, str):
            try:
                return render(value, context)
            except TemplateError as exc:
                self.diagnostics.error(where(rel), str(exc))
                return value
        if isinstance(value, dict):
            return {k: self._render(v, context, where, (*rel, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._render(v, context, where, (*rel, i)) for i, v in enumerate(value)]
        return value

    def _secret(self, ref: dict[str, str], where: Location) -> Secret | None:
        key = ref.get("secret") or ref.get("vault", "")
        if "secret" in ref and is_template(key):  # its template failed, and that was reported
            return None
        if key not in self._secrets:
            try:
                self._secrets[key] = self.resolver.resolve(ref)
            except SecretError as exc:
                self.diagnostics.error(where, f"secret {ref.get('secret', '!vault')}: {exc}")
                self._secrets[key] = None
        return self._secrets[key]


def _valid_address(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return bool(_HOSTNAME.match(address)) and not address.replace(".", "").isdigit()
    return True


@cache
def _sha256(path: Path, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
