"""Loading an inventory: YAML files → validated, layered, templated, resolved desired state.

Precedence, lowest first: built-in defaults < ``defaults`` < each of the site's ``groups`` in the
order listed < the site's ``defaults`` < the device itself. At every level a ``recorders:`` or
``cameras:`` block applies to that role only and wins over the level's general keys. Mappings
(accounts, an account's fields, lock_policy, tls) merge key by key; anything else is replaced.

Every problem is collected with file, line and key; nothing is raised until all are known. Every
file the inventory names stays inside its folder, and ``env:`` references read only ``ENFORCE_*``
and what ``secrets.env`` declares (see ``_confine`` and ``_env``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enforcer.config import _confine, _yaml, schema, templating
from enforcer.config._layers import BUILTIN, SETTINGS, Layered, layers_for
from enforcer.config._sitebuild import SiteBuilder
from enforcer.config._yaml import Document
from enforcer.config.diagnostics import Diagnostics, Location
from enforcer.config.secrets import SecretResolver
from enforcer.credentials.secret import Secret
from enforcer.errors import SecretError
from enforcer.model import Inventory, KVStore, Site

_TOP_MAPPINGS = ("vars", "defaults", "groups", "firmware", "sites")


@dataclass
class _Root:
    """The top-level keys of every inventory file, each entry remembering its document."""

    organisation: tuple[str, Document] | None = None
    vault_password: tuple[dict[str, str], Document] | None = None
    credential_store: tuple[str | dict[str, Any], Document] | None = None
    env_allowed: tuple[str, ...] = ()
    entries: dict[str, dict[str, tuple[Any, Document]]] = field(default_factory=lambda: {k: {} for k in _TOP_MAPPINGS})


def load_inventory(
    path: Path,
    diagnostics: Diagnostics,
    *,
    vault_password: Secret | None = None,
    environ: dict[str, str] | None = None,
) -> Inventory | None:
    """Load the inventory at ``path`` (a file, or a folder of ``*.yml`` files).

    Problems go to ``diagnostics``; None is returned when the files cannot be understood at all.
    ``vault_password`` overrides the inventory's own ``vault_password`` reference.
    """
    files = _files(path, diagnostics)
    docs = [d for d in (_yaml.load(f, diagnostics) for f in files) if d is not None]
    if len(docs) != len(files):
        return None
    valid = [schema.validate(d, "inventory", diagnostics) for d in docs]
    if not all(valid):
        return None
    root = _collect(docs, diagnostics)
    base = path if path.is_dir() else path.parent
    env = dict(os.environ) if environ is None else environ
    password = _vault_password(root, base, env, vault_password, diagnostics)
    resolver = SecretResolver(base, password, env, root.env_allowed)
    groups = root.entries["groups"]
    with templating.shared_totals():  # one budget for every template of the inventory, however inherited
        built = [
            _site(root, name, site, doc, base, resolver, diagnostics)
            for name, (site, doc) in root.entries["sites"].items()
        ]
    sites = [s for s in built if s is not None]
    if root.organisation is None:
        diagnostics.error(Location(docs[0].path, 1, ()), "no file names the organisation", "add organisation: NAME")
    return Inventory(
        organisation=root.organisation[0] if root.organisation else "",
        path=path,
        sites=tuple(sites),
        groups=tuple(groups),
        credential_store=_credential_store(root, base, diagnostics),
        vault_password=password,
    )


def _site(
    root: _Root,
    name: str,
    site: dict[str, Any],
    doc: Document,
    base: Path,
    resolver: SecretResolver,
    diagnostics: Diagnostics,
) -> Site | None:
    """One site's devices and clients; None, with a diagnostic, if building it failed outright."""
    groups = root.entries["groups"]
    for i, group in enumerate(site.get("groups", [])):
        if group not in groups:
            diagnostics.error(
                doc.where(("sites", name, "groups", i)),
                f"unknown group {group!r}",
                f"groups defined: {', '.join(sorted(groups)) or 'none'}",
            )
    builder = SiteBuilder(
        name=name,
        site=site,
        doc=doc,
        base=base,
        organisation=root.organisation[0] if root.organisation else "",
        resolver=resolver,
        diagnostics=diagnostics,
        firmware=root.entries["firmware"],
    )
    try:
        return builder.build(functools.partial(_levels, root, site=site, doc=doc, name=name))
    except Exception as exc:  # a gap in the checks must still name the site, never end in a traceback
        why = f"{type(exc).__name__}: {_confine.clip(str(exc))}"
        diagnostics.error(doc.where(("sites", name)), f"site {name} cannot be built: {why}")
        return None


#: Ansible's variable folders: enforcer reads neither, and says so rather than ignoring what they hold.
_ANSIBLE_FOLDERS = {
    "group_vars": "put a group's settings under groups: NAME: defaults: in the inventory",
    "host_vars": "put a device's settings on the device itself (or its site's defaults)",
}


def _files(path: Path, diagnostics: Diagnostics) -> list[Path]:
    folder = path if path.is_dir() else path.parent
    for name, hint in _ANSIBLE_FOLDERS.items():
        if (folder / name).is_dir():
            diagnostics.error(
                Location(folder / name, 1, ()),
                f"{name}/ is Ansible's layout, which enforcer does not read: its settings would be ignored",
                hint,
            )
    if path.is_dir():
        candidates = sorted(p for p in path.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
        if not candidates:
            diagnostics.error(Location(path, 1, ()), "inventory folder holds no .yml file")
        files = []
        for candidate in candidates:
            try:
                _confine.inside(path, candidate.name, "inventory file")
            except _confine.PathError as exc:
                diagnostics.error(Location(candidate, 1, ()), str(exc))
                continue
            files.append(candidate)
        return files
    if not path.exists():
        diagnostics.error(Location(path, 1, ()), "inventory not found")
        return []
    return [path]


def _collect(docs: list[Document], diagnostics: Diagnostics) -> _Root:
    """Gather top-level keys across files; the same name defined twice is an error."""
    root = _Root()
    for doc in docs:
        data = doc.data or {}
        if "organisation" in data:
            if root.organisation and root.organisation[0] != data["organisation"]:
                first = root.organisation[1].where(("organisation",))
                diagnostics.error(
                    doc.where(("organisation",)), f"organisation differs from {first.file.name}:{first.line}"
                )
            root.organisation = root.organisation or (data["organisation"], doc)
        if "vault_password" in data:
            root.vault_password = (data["vault_password"], doc)
        if "credential_store" in data:
            root.credential_store = (data["credential_store"], doc)
        root.env_allowed += tuple(p for p in (data.get("secrets") or {}).get("env", []) if p not in root.env_allowed)
        for section in _TOP_MAPPINGS:
            for key, value in (data.get(section) or {}).items():
                seen = root.entries[section].get(key)
                if seen is not None and section != "vars":
                    other = seen[1].where((section, key))
                    diagnostics.error(
                        doc.where((section, key)),
                        f"{section[:-1] if section.endswith('s') else section} {key!r} is defined twice",
                        f"first at {other.file.name}:{other.line}",
                    )
                    continue
                root.entries[section][key] = (value, doc)
    return root


def _credential_store(root: _Root, base: Path, diagnostics: Diagnostics) -> Path | KVStore:
    """The store apply writes to: a vault file inside the folder, like every file the inventory names, or a
    KV v2 engine of HashiCorp Vault (whose server and token the environment gives, never the inventory)."""
    if root.credential_store is None:
        return base / "credentials.vault"
    name, doc = root.credential_store
    if isinstance(name, dict):
        kv = name["hashicorp_vault"]
        return KVStore(kv.get("mount", "secret"), kv["path"])
    try:
        _confine.inside(base, name, "credential store")
    except _confine.PathError as exc:
        diagnostics.error(doc.where(("credential_store",)), str(exc))
    return base / name


def _vault_password(
    root: _Root, base: Path, env: dict[str, str], given: Secret | None, diagnostics: Diagnostics
) -> Secret | None:
    if given is not None:
        return given
    if root.vault_password is None:
        return None
    ref, doc = root.vault_password
    try:
        return SecretResolver(base, None, env, root.env_allowed).resolve(ref)
    except SecretError as exc:
        diagnostics.error(doc.where(("vault_password",)), f"vault password: {exc}")
        return None


def _levels(root: _Root, role: str, site: dict[str, Any], doc: Document, name: str) -> tuple[Layered, dict[str, Any]]:
    """A site's settings for ``role`` from every level above the device, and its template vars."""
    layered = Layered()
    layered.overlay(BUILTIN, None, ())
    variables: dict[str, Any] = {k: v for k, (v, _) in root.entries["vars"].items()}
    # Organisation defaults may be spread over files: general keys first, then the role's block.
    org = root.entries["defaults"]
    for key, (value, odoc) in org.items():
        if key in SETTINGS:
            layered.overlay({key: value}, odoc, ("defaults",))
    if f"{role}s" in org:
        value, odoc = org[f"{role}s"]
        layered.overlay(value, odoc, ("defaults", f"{role}s"))
    for group in site.get("groups", []):
        if group in root.entries["groups"]:
            value, gdoc = root.entries["groups"][group]
            variables.update(value.get("vars") or {})
            for settings, rel in layers_for(role, value.get("defaults")):
                layered.overlay(settings, gdoc, ("groups", group, "defaults", *rel))
    for settings, rel in layers_for(role, site.get("defaults")):
        layered.overlay(settings, doc, ("sites", name, "defaults", *rel))
    variables.update(site.get("vars") or {})
    return layered, variables
