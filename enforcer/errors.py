"""Every exception enforcer raises on purpose, in one tree.

::

    EnforcerError
    ├── SecretError (LookupError)        a secret reference that cannot be resolved
    ├── TemplateError (ValueError)       an inventory template that cannot be rendered
    ├── VaultError (ValueError)          Ansible Vault data that cannot be read
    │   ├── VaultFormatError             not vault data, or a version or cipher not supported
    │   └── VaultPasswordError           a wrong password, or altered data
    ├── CredentialStoreError             the credential store cannot be read or written
    │   └── CredentialStoreConflict      someone else changed a site's record since this run read it
    ├── JournalError                     the run journal cannot be read or written
    ├── Refused                          the login guard refused an attempt, before anything was sent
    ├── StalePlan                        a saved plan's devices changed since it was made
    ├── LockWaitExpired                  a device stayed locked longer than the run allows
    ├── BackendError                     a shared executor backend (Temporal) cannot be reached or refused
    ├── WorkerError                      a step failed on a worker: its message as the worker said it
    ├── SiteLockError                    a site's run lock cannot be taken or is not held
    │   ├── SiteBusy                     another run holds it: names the holder
    │   └── SiteNotHeld                  journal work begun for a site this process does not hold
    ├── DeviceError                      a device failed: site, device, step, what it said
    │   ├── LockedOut                    it reports us locked out, with the time left
    │   ├── TransportFailed              no whole reply came back (timeout, refused, reset, TLS)
    │   ├── LoginFailed                  it refused our credential
    │   ├── RebootRequired               it took a change that applies only after a reboot
    │   └── Refusal                      it answered a request with an error of its own
    └── WireError                        a reply drivers cannot use, before it is put in a device's terms
        ├── TransportError               no whole reply (drivers raise it on as TransportFailed)
    ├── UpgradeRefused               a WebSocket upgrade answered with a plain HTTP status
        ├── DigestError                  a digest challenge or exchange that cannot go on
        │   ├── BasicOnly                the device offers only Basic authentication
        │   └── Blocked                  the device refuses our source before authentication
        ├── XmlError (ValueError)        an ISAPI body that is not the XML expected
        ├── ParseError (ValueError)      a Dahua key=value body that is not what was expected
        └── RpcError                     a Dahua RPC2 reply that cannot be read

Library code raises these; only the command line turns them into exit codes. No message ever holds
a secret value. The lab keeps exceptions of its own: it shares no code with what it simulates for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class EnforcerError(Exception):
    """Base of all of enforcer's own errors."""


class SecretError(EnforcerError, LookupError):
    """A secret reference could not be resolved; the message never holds a secret value."""


class TemplateError(EnforcerError, ValueError):
    """A template failed to render; the message says why in the user's terms."""


class VaultError(EnforcerError, ValueError):
    """Vault data could not be read; never holds the password, the plaintext or the input text."""


class VaultFormatError(VaultError):
    """The text is not vault data, is malformed, or uses a version/cipher that is not supported."""


class VaultPasswordError(VaultError):
    """The HMAC did not match: a wrong password or altered data, which the format cannot tell apart."""


class CredentialStoreError(EnforcerError):
    """The store cannot be read, is malformed, or an operation makes no sense; never holds a secret."""


class CredentialStoreConflict(CredentialStoreError):
    """A compare-and-set write found the site's record changed by someone else since this run read it
    (another machine rotated or applied it): the site stops, nothing more is sent to its devices."""

    def __init__(self, site: str, detail: str) -> None:
        self.site = site
        super().__init__(
            f"site {site}: the credential store changed under this run ({detail}): someone else rotated or "
            "applied this site meanwhile; nothing more was sent to its devices. Run again to start from what "
            "the store holds now"
        )


class JournalError(EnforcerError):
    """The run journal cannot be read or written (a damaged file, a full disk)."""


class Refused(EnforcerError):
    """The login guard refused an attempt; ``reason`` says why in words a person can act on."""

    def __init__(self, device: str, reason: str) -> None:
        self.device, self.reason = device, reason
        super().__init__(f"{device}: login not attempted: {reason}")


class StalePlan(EnforcerError):
    """A saved plan's devices changed since it was made; ``changed`` names them."""

    def __init__(self, changed: Sequence[str]) -> None:
        self.changed = list(changed)
        count = len(self.changed)
        more = ", …" if count > 10 else ""
        super().__init__(
            f"the saved plan is stale: {count} device{'s' * (count != 1)} changed since it was made "
            f"({', '.join(self.changed[:10])}{more}); run enforce plan again"
        )


class LockWaitExpired(EnforcerError):
    """A device stayed locked longer than the run allows."""


class BackendError(EnforcerError):
    """A shared backend (Temporal) cannot be reached, or refused the work; says what to check."""


class WorkerError(EnforcerError):
    """A step failed where it ran, on a worker; the message is the worker's own (never holds a secret)."""


class SiteLockError(EnforcerError):
    """A site's run lock cannot be taken (say, its lock file cannot be created), or is not held."""


class SiteBusy(SiteLockError):
    """Another run holds sites this run needs; ``busy`` maps each to its holder, described.

    The message names the first site and its holder; what to do about it is the caller's to say (the
    command line offers ``--wait``).
    """

    def __init__(self, busy: Mapping[str, str]) -> None:
        self.busy = dict(busy)
        site, holder = next(iter(self.busy.items()))
        others = [s for s in self.busy if s != site]
        more = f" ({len(others)} more of the selected sites are held: {_names(others)})" if others else ""
        super().__init__(f"site {site} is {holder}{more}")


class SiteNotHeld(SiteLockError):
    """Run work was begun for sites whose locks this process does not hold: a bug, never adopted work."""

    def __init__(self, sites: Sequence[str]) -> None:
        self.sites = list(sites)
        super().__init__(f"a run of sites {_names(self.sites)} was begun without holding their locks")


def _names(sites: Sequence[str], shown: int = 5) -> str:
    return ", ".join(sites[:shown]) + (", …" if len(sites) > shown else "")


class DeviceError(EnforcerError):
    """A device or client failed during a step."""

    def __init__(self, *, site: str, device: str, step: str, detail: str) -> None:
        self.site, self.device, self.step, self.detail = site, device, step, detail
        super().__init__(f"{site}/{device}: {step}: {detail}")


class LockedOut(DeviceError):
    """The device reports our source (or the account) locked; come back after ``unlock_seconds``."""

    def __init__(self, *, site: str, device: str, step: str, detail: str, unlock_seconds: float) -> None:
        super().__init__(site=site, device=device, step=step, detail=detail)
        self.unlock_seconds = unlock_seconds


class TransportFailed(DeviceError):
    """No whole reply came back; ``kind`` is timeout, refused, reset, truncated, tls or other."""

    def __init__(self, *, site: str, device: str, step: str, detail: str, kind: str) -> None:
        super().__init__(site=site, device=device, step=step, detail=detail)
        self.kind = kind


class LoginFailed(DeviceError):
    """The device refused our credential; what it said of our budget, where it said it."""

    def __init__(
        self,
        *,
        site: str,
        device: str,
        step: str,
        detail: str,
        attempts_left: int | None = None,
        locked: bool = False,
        unlock_seconds: float = 0.0,
    ) -> None:
        super().__init__(site=site, device=device, step=step, detail=detail)
        self.attempts_left, self.locked, self.unlock_seconds = attempts_left, locked, unlock_seconds


class RebootRequired(DeviceError):
    """The device accepted the change but applies it only after a reboot."""


class Refusal(DeviceError):
    """The device answered a request with an error of its own; ``said`` is its wording."""

    def __init__(self, *, site: str, device: str, step: str, detail: str, said: str) -> None:
        super().__init__(site=site, device=device, step=step, detail=detail)
        self.said = said


class WireError(EnforcerError):
    """A reply the drivers cannot use; drivers put it in a device's terms (a DeviceError) at their edge."""


class TransportError(WireError):
    """A request did not get a whole HTTP reply; ``kind`` is timeout, refused, reset, truncated, tls or other."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind, self.detail = kind, detail
        super().__init__(detail)


class UpgradeRefused(WireError):
    """A WebSocket upgrade answered with a plain HTTP ``status`` (and ``body``), not ``101``."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status, self.body = status, body
        super().__init__(f"HTTP {status} to the WebSocket upgrade")


class DigestError(WireError):
    """The digest exchange cannot go on (a challenge we cannot answer, a nonce the device keeps refusing)."""


class BasicOnly(DigestError):
    """The device offers only Basic authentication: enforcer never sends a password in clear."""


class Blocked(DigestError):
    """The device refuses our source before authentication (its IP filter)."""


class XmlError(WireError, ValueError):
    """An ISAPI body that is not the XML expected; the message names the element, never a value sent."""


class ParseError(WireError, ValueError):
    """A Dahua body that is not what was expected."""


class RpcError(WireError):
    """A Dahua RPC2 reply that cannot be read; ``status`` is its HTTP status."""

    def __init__(self, detail: str, status: int = 200) -> None:
        self.detail, self.status = detail, status
        super().__init__(detail)
