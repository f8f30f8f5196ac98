"""One SSH connection to a client's host: verified against known_hosts, authenticated, then commands and SFTP.

The host is verified before anything of ours is sent. A host that ``known_hosts`` does not name is never
even connected to; one that shows another key than known_hosts holds is dropped right after the key
exchange, before authentication (neither the SSH key's signature nor the password goes out). The key
exchange offers only the host-key algorithms known_hosts holds for it, so the host must show one of
those keys. Then the login: the ``key`` if given, then the ``password``.

Every paramiko or socket failure comes out as a DeviceError naming site, client and step, saying what
to do; paramiko's own log (``paramiko.transport``) carries no secret: packet dumps stay off.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from enforcer.credentials.secret import Secret
from enforcer.drivers.base import DriverOptions
from enforcer.errors import DeviceError
from enforcer.model import Client, SshSettings

COMMAND_SECONDS = 120.0  # a reload may restart a container: Frigate says "up to one minute"
OUTPUT_LIMIT = 64 * 1024
#: Host-key algorithms that can show each key type known_hosts may hold (RSA signs with SHA-2 only).
ALGORITHMS = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}

Fail = Callable[[str], DeviceError]


@dataclass(frozen=True)
class Ran:
    """A command's exit status and its output (stdout and stderr together, the last 64 KB)."""

    status: int
    output: str

    @property
    def ok(self) -> bool:
        return self.status == 0

    def last_line(self) -> str:
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        return lines[-1][:200] if lines else "no output"


def host_id(address: str, port: int) -> str:
    """How known_hosts names a host: ``address``, or ``[address]:port`` off port 22."""
    return address if port == 22 else f"[{address}]:{port}"


def known_keys(path: Path, host: str, fail: Fail) -> dict[str, paramiko.PKey]:
    """The keys ``path`` holds for ``host``, by type; DeviceError if the file cannot be read or names none."""
    keys = paramiko.HostKeys()
    try:
        keys.load(str(path))
    except (OSError, paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise fail(f"known_hosts {path.name} cannot be read ({why}): nothing was sent") from None
    found = keys.lookup(host)
    if not found:
        raise fail(
            f"known_hosts {path.name} holds no key for {host}: enforcer connects only to a host it can verify, "
            "so nothing was sent (add the host's key with ssh-keyscan, then check its fingerprint on the host)"
        )
    return {name: found[name] for name in found.keys()}  # noqa: SIM118 (a paramiko mapping without items())


def private_key(secret: Secret, fail: Fail) -> paramiko.PKey:
    """The SSH key in ``secret`` (OpenSSH or PEM text, no passphrase) as paramiko's key of its type."""
    text = secret.reveal()
    try:
        loaded: object
        try:
            loaded = serialization.load_ssh_private_key(text.encode(), password=None)
        except ValueError:
            loaded = serialization.load_pem_private_key(text.encode(), password=None)
        kind: type[paramiko.PKey]
        if isinstance(loaded, ed25519.Ed25519PrivateKey):
            kind = paramiko.Ed25519Key
        elif isinstance(loaded, ec.EllipticCurvePrivateKey):
            kind = paramiko.ECDSAKey
        elif isinstance(loaded, rsa.RSAPrivateKey):
            kind = paramiko.RSAKey
        else:
            raise ValueError("a key type SSH does not use")
        return kind.from_private_key(io.StringIO(text))
    except (ValueError, TypeError, paramiko.SSHException) as exc:
        what = "needs a passphrase" if "password" in str(exc).lower() else "is not an SSH private key"
        raise fail(f"the SSH key ({secret.ref}) {what}: give an OpenSSH or PEM key without a passphrase") from None


class Session:
    """An authenticated connection to the host of ``client``; a context manager."""

    def __init__(self, client: Client, options: DriverOptions, fail: Fail) -> None:
        assert isinstance(client.settings, SshSettings)
        self.client, self.settings, self.options, self.fail = client, client.settings, options, fail
        self.host = host_id(client.address or "", self.settings.port)
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def active(self) -> bool:
        return self._transport is not None and self._transport.is_active()

    def open(self) -> Session:
        """Verify the host, then log in; DeviceError with nothing of ours sent if the host is not the one known."""
        known = known_keys(self.settings.known_hosts, self.host, self.fail)
        offered = [a for name in known for a in ALGORITHMS.get(name, ())]
        if not offered:
            raise self.fail(
                f"known_hosts holds only {', '.join(known)} keys for {self.host}, which SSH no longer trusts: add "
                "its ed25519, ECDSA or RSA key; nothing was sent"
            )
        address = self.client.address or ""
        source = (self.options.source_address, 0) if self.options.source_address else None
        try:
            sock = socket.create_connection((address, self.settings.port), self.options.timeout, source_address=source)
        except OSError as exc:
            raise self.fail(f"cannot connect to {self.host}: {exc.strerror or exc}") from None
        transport = paramiko.Transport(sock)
        self._transport = transport
        try:
            transport.set_hexdump(False)
            transport.get_security_options().key_types = offered
            transport.start_client(timeout=self.options.timeout)
            shown = transport.get_remote_server_key()
            if known.get(shown.get_name()) != shown:
                raise self.fail(
                    f"{self.host} shows host key {shown.fingerprint}, not the one known_hosts holds: the host was "
                    "reinstalled, or this is not the host; nothing was sent (check the key on the host, then update "
                    "known_hosts)"
                )
            self._authenticate(transport)
        except paramiko.SSHException as exc:
            self.close()
            if "host key" in str(exc).lower():
                raise self.fail(
                    f"{self.host} offers none of the host key types known_hosts holds for it ({', '.join(known)}): "
                    "its keys changed; nothing was sent"
                ) from None
            raise self.fail(f"SSH with {self.host} failed: {exc}") from None
        except (OSError, EOFError) as exc:
            self.close()
            raise self.fail(f"SSH with {self.host} failed: {exc}") from None
        except DeviceError:
            self.close()
            raise
        return self

    def _authenticate(self, transport: paramiko.Transport) -> None:
        user, tried = self.settings.user, []
        if self.settings.key is not None:
            tried.append("key")
            try:
                transport.auth_publickey(user, private_key(self.settings.key, self.fail))
                return
            except paramiko.AuthenticationException:
                pass
        if self.settings.password is not None:
            tried.append("password")
            try:
                transport.auth_password(user, self.settings.password.reveal(), fallback=False)
                return
            except paramiko.AuthenticationException:
                pass
        raise self.fail(f"{self.host} refused the SSH login as {user} ({' then '.join(tried)})")

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            assert self._transport is not None
            try:
                self._sftp = paramiko.SFTPClient.from_transport(self._transport)
            except (paramiko.SSHException, OSError) as exc:
                raise self.fail(f"{self.host} offers no SFTP ({exc})") from None
            if self._sftp is None:
                raise self.fail(f"{self.host} offers no SFTP")
        return self._sftp

    def run(self, command: str, timeout: float = COMMAND_SECONDS) -> Ran:
        """Run ``command`` in the login's shell; its status and output (DeviceError if it does not finish)."""
        assert self._transport is not None
        try:
            channel = self._transport.open_session(timeout=self.options.timeout)
            channel.settimeout(timeout)
            channel.set_combine_stderr(True)
            channel.exec_command(command)
            output = b""
            while chunk := channel.recv(32768):
                output = (output + chunk)[-OUTPUT_LIMIT:]
            status = channel.recv_exit_status()
            channel.close()
        except TimeoutError:
            raise self.fail(f"{command.split()[0]!r} did not finish within {timeout:.0f} s") from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise self.fail(f"running {command.split()[0]!r} failed: {exc}") from None
        return Ran(status, output.decode("utf-8", "replace"))

    @contextmanager
    def remote(self, what: str) -> Iterator[None]:
        """SFTP failures in the block as DeviceError saying ``what`` was being done."""
        try:
            yield
        except (OSError, paramiko.SSHException, EOFError) as exc:
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise self.fail(f"{what} on {self.host}: {why}") from None

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
