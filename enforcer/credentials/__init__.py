"""The one owner of secrets between the inventory and the wire.

:class:`Secret` is the masked value every password travels in; :class:`CredentialStore` records each
device's current, pending and previous passwords in a vault file; the :class:`LoginGuard` owns the
lock budget of every device; the :class:`Keyring` ties them together for a run: which passwords to
try (candidates), discovery, every attempt a driver makes (:meth:`DeviceKeys.attempt`), what is
known to be current, and the store written before any device sees a new password.
"""

from enforcer.credentials.discovery import Discovery, discover
from enforcer.credentials.guard import LoginGuard, Verdict
from enforcer.credentials.keyring import Attempt, DeviceKeys, Keyring, Known, Probe
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore, Entry

__all__ = [
    "Attempt",
    "CredentialStore",
    "DeviceKeys",
    "Discovery",
    "Entry",
    "Keyring",
    "Known",
    "LoginGuard",
    "Probe",
    "Secret",
    "Verdict",
    "discover",
]
