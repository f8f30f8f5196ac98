"""SshClient: a Linux host running NVR software (Frigate and the like), driven over SSH (clients.md §2.4).

Its device credentials live in files it reads when it (re)starts. enforcer renders those files from the
inventory's templates, installs them atomically with the previous ones kept (see ``_files``), runs the
host's ``validate`` command, then ``reload`` if the software runs; if either fails, the previous files
go back (and the software is reloaded again), and the step fails saying what failed and that the host
was rolled back. Isolation stops the software (``stop``) so that it cannot retry a password about to go
stale; release starts it (``start``) only if it ran before, as the credential store recorded.

Verify waits for the ``check`` command (default: ``status``) to succeed: the host's own word that its
software is connected again. On the lab, ``frigatectl check`` says so once every camera accepted a
login; in the field, point it at what the software offers (Frigate: its ``/api/stats``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from enforcer.config.clientfiles import render_client_file
from enforcer.drivers.base import DriverOptions, Outcome, PasswordRules
from enforcer.drivers.client import ClientFacts, Held, Standing
from enforcer.drivers.ssh import _files
from enforcer.drivers.ssh._parse import stored_paths
from enforcer.drivers.ssh._session import Ran, Session
from enforcer.errors import DeviceError, TemplateError
from enforcer.model import Client, SshSettings

if TYPE_CHECKING:
    from enforcer.credentials.keyring import Keyring

VERIFY_SECONDS = 90.0  # Frigate: "Restarting (this can take up to one minute)"
VERIFY_EVERY = 1.0


class SshClient:
    """A host reached over SSH whose files hold its device credentials; registered as ``ssh``."""

    kind: ClassVar[str] = "ssh"
    updatable: ClassVar[bool] = True
    password_rules: ClassVar[PasswordRules | None] = None  # rendered through the inventory's own templates

    def __init__(self, client: Client, *, keyring: Keyring, options: DriverOptions) -> None:
        if not isinstance(client.settings, SshSettings):
            raise TypeError(f"{client.id} is not an ssh client")
        self.client, self.settings, self.options = client, client.settings, options
        self._session: Session | None = None
        self._step = "facts"
        self._secrets: set[str] = set()
        self._started = False  # this driver started the software (release): verify expects it running

    # -- ClientDriver -------------------------------------------------------------------------------

    def facts(self, held: Sequence[Held]) -> ClientFacts:
        """Whether the software runs, and whom its files say it logs into (read back, passwords dropped).

        ``held`` is not checked against the files: they are the inventory's templates, rendered whole."""
        session = self._open("facts")
        running = self._running(session)
        stored, present = [], 0
        for file in self.settings.files:
            remote = _files.read(session, file.path)  # a missing folder fails here: the update would
            if remote.data is not None:
                present += 1
                stored += stored_paths(remote.data.decode("utf-8", "replace"), running)
        detail = f"{present} of {len(self.settings.files)} files present; {'running' if running else 'stopped'}"
        return ClientFacts(self.client.id, tuple(stored), running, detail)

    def standing(self, held: Sequence[Held]) -> Standing:
        return {"running": self._running(self._open("isolate"))}

    def isolate(self, held: Sequence[Held]) -> Outcome:
        """Stop the software; confirmed by ``status``."""
        session = self._open("isolate")
        if not self._running(session):
            return Outcome(False, "already stopped")
        self._command(session, "stop", self.settings.commands.stop)
        if self._running(session):
            raise self._fail("the stop command succeeded but the status command still says it runs")
        return Outcome(True, "stopped")

    def update(self, held: Sequence[Held]) -> Outcome:
        """Render, install, validate, reload; on a failure, the previous files back and a DeviceError."""
        self._secrets |= {h.password.reveal() for h in held}
        planned = self._render(held)  # a template that fails leaves the host untouched
        session = self._open("update")
        changed = []
        for path, (data, mode) in planned.items():
            before = _files.read(session, path)
            if before.data != data or before.mode != mode:
                changed.append(_files.Planned(path, data, mode, before))
        running = self._running(session)
        if changed:
            _files.install(session, changed)
        commands = self.settings.commands
        if commands.validate:
            self._or_roll_back(session, changed, "validate", commands.validate, running)
        if running:  # a stopped service reads its files when it starts
            self._or_roll_back(session, changed, "reload", commands.reload, running)
        for f in changed:
            if _files.read(session, f.path).data != f.data:
                raise self._fail(f"{f.path} does not read back as written")
        done = f"{len(changed)} of {len(planned)} files written" + (", reloaded" if running else ", service stopped")
        return Outcome(bool(changed), done)

    def release(self, held: Sequence[Held], standing: Standing) -> Outcome:
        """Start the software again if it ran before isolation; leave it stopped if it did not."""
        session = self._open("release")
        if not standing.get("running"):
            return Outcome(False, "left stopped, as it was")
        if self._running(session):
            return Outcome(False, "already running")
        self._command(session, "start", self.settings.commands.start)
        self._started = True
        return Outcome(True, "started")

    def verify(self, held: Sequence[Held]) -> str:
        """Wait (a bounded time) for ``check`` to say the software is connected again."""
        session = self._open("verify")
        if not self._running(session):
            if self._started:
                raise self._fail("started by this run, it is no longer running (see the host's service log)")
            return "stopped, as before the run"
        check = self.settings.commands.check or self.settings.commands.status
        deadline = time.monotonic() + VERIFY_SECONDS
        while True:
            ran = session.run(check)
            if ran.ok:
                return "connected again"
            if time.monotonic() > deadline:
                raise self._fail(
                    f"not connected {VERIFY_SECONDS:.0f} s on: check exited {ran.status}: {self._said(ran)}"
                )
            time.sleep(VERIFY_EVERY)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- helpers ------------------------------------------------------------------------------------

    def _open(self, step: str) -> Session:
        self._step = step
        if self._session is None or not self._session.active:
            self.close()
            self._session = Session(self.client, self.options, self._fail).open()
        return self._session

    def _fail(self, detail: str) -> DeviceError:
        return DeviceError(site=self.client.site, device=self.client.name, step=self._step, detail=self._mask(detail))

    def _mask(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _said(self, ran: Ran) -> str:
        return self._mask(ran.last_line())

    def _running(self, session: Session) -> bool:
        return session.run(self.settings.commands.status).ok

    def _command(self, session: Session, name: str, command: str) -> None:
        ran = session.run(command)
        if not ran.ok:
            raise self._fail(f"the {name} command exited {ran.status}: {self._said(ran)}")

    def _render(self, held: Sequence[Held]) -> dict[str, tuple[bytes, int]]:
        devices = {h.device.name: h.device for h in held}
        passwords = {(h.device.name, h.user): h.password for h in held}

        def password_for(device: str, user: str) -> str:
            secret = passwords.get((device, user))
            if secret is None:
                raise self._fail(f"{device} declares no password for {user}, which the host's files hold")
            return secret.reveal()

        out = {}
        for file in self.settings.files:
            try:
                text = render_client_file(file.source, self.client, devices, password_for)
            except TemplateError as exc:
                raise self._fail(f"template {file.template.name} failed: {exc}; the host was not touched") from None
            out[file.path] = (text.encode("utf-8"), int(file.mode, 8))
        return out

    def _or_roll_back(
        self, session: Session, changed: list[_files.Planned], name: str, command: str, running: bool
    ) -> None:
        """Run ``command``; if it fails, put the previous files back (reloading again) and raise saying so."""
        ran = session.run(command)
        if ran.ok:
            return
        failed = f"the {name} command exited {ran.status} ({self._said(ran)})"
        if not changed:
            raise self._fail(f"{failed}; the files already held these credentials: nothing to roll back")
        _files.restore(session, changed)
        back = f"{failed}; the host was rolled back to its previous files ({', '.join(f.path for f in changed)})"
        if running and name == "reload":
            again = session.run(self.settings.commands.reload)
            back += " and reloaded" if again.ok else f", but reloading them failed too (exit {again.status})"
        raise self._fail(back)
