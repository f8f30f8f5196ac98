"""A real OpenSSH server on a loopback address, run as this user: how the lab's Linux hosts are reached.

The lab simulates no SSH: a host's files and commands are reached through Debian's ``openssh-server``
(``.ci/run`` installs it), so that a driver that works here has passed a real server's host-key
exchange, authentication, SFTP and exec. Each server runs in the foreground (``sshd -D``) with a folder
of its own: its config, its host key, the one key allowed in, and its log, which is the ground truth of
what a client sent (``Accepted publickey``, or a connection closed before any authentication).

As root, sshd wants its privilege-separation directory ``/run/sshd``, which a machine without the ssh
service running lacks; it is created here, as systemd's ``RuntimeDirectory=sshd`` would.

Example::

    private, public = host_key_pair()
    server = SshServer(tmp / "sshd", "127.0.0.1", free_port("127.0.0.1"), host_key=private,
                       authorized_keys=client_public)
    server.start()
    (tmp / "known_hosts").write_text(server.known_hosts_line())
    ...
    server.stop()
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

#: Where Debian's openssh-server puts the daemon (``which`` first, for other layouts).
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")


class SshdError(RuntimeError):
    """sshd is missing, refused its config, or did not start listening; the message says which."""


def host_key_pair() -> tuple[str, str]:
    """A fresh ed25519 key: its private half in OpenSSH format, and its ``ssh-ed25519 AAAA…`` line."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode("ascii")
    return private, public_line(private)


def public_line(private: str) -> str:
    """The ``type base64`` public key line of an OpenSSH private key."""
    key = serialization.load_ssh_private_key(private.encode("ascii"), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode("ascii")


def host_id(address: str, port: int) -> str:
    """How known_hosts names a host: ``address``, or ``[address]:port`` off port 22."""
    return address if port == 22 else f"[{address}]:{port}"


def free_port(address: str) -> int:
    """A TCP port free on ``address`` now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


class SshServer:
    """One sshd on ``address:port`` letting ``user`` (default: this one) in with ``authorized_keys``."""

    def __init__(
        self,
        directory: Path,
        address: str,
        port: int,
        *,
        host_key: str,
        authorized_keys: str,
        user: str | None = None,
    ) -> None:
        self.directory, self.address, self.port = Path(directory), address, port
        self.host_key, self.authorized_keys = host_key, authorized_keys
        self.user = user or getpass.getuser()
        self.log_path = self.directory / "sshd.log"
        self._process: subprocess.Popen[bytes] | None = None

    def known_hosts_line(self) -> str:
        """This server's line for a known_hosts file."""
        return f"{host_id(self.address, self.port)} {public_line(self.host_key)}\n"

    def log(self) -> str:
        """What sshd has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 10.0) -> None:
        """Write the config, start sshd, and return once it listens; SshdError if it cannot."""
        if not os.access(SSHD, os.X_OK):
            raise SshdError(f"{SSHD} not found: install the openssh-server package (apt-get install openssh-server)")
        self._write()
        if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        config = str(self.directory / "sshd_config")
        check = subprocess.run([SSHD, "-t", "-f", config], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise SshdError(f"sshd refused its config: {check.stderr.strip() or check.stdout.strip()}")
        self.log_path.write_text("", encoding="utf-8")
        self._process = subprocess.Popen(
            [SSHD, "-D", "-f", config, "-E", str(self.log_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while "Server listening on" not in self.log():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                last = self.log().strip().splitlines()[-1:] or ["no word in its log"]
                raise SshdError(f"sshd did not start listening on {self.address}:{self.port}: {last[0]}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop sshd (sessions it forked end with their connections)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _write(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        key = self.directory / "ssh_host_ed25519_key"
        _write_private(key, self.host_key)
        (self.directory / "authorized_keys").write_text(self.authorized_keys.strip() + "\n", encoding="utf-8")
        lines = [
            f"ListenAddress {self.address}:{self.port}",
            f"HostKey {key}",
            f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
            f"PidFile {self.directory / 'sshd.pid'}",
            f"AllowUsers {self.user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",  # the lab's folders are the test's temporary ones
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "MaxStartups 100",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
        ]
        (self.directory / "sshd_config").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_private(path: Path, text: str) -> None:
    """A private key file sshd accepts: mode 0600 from its creation."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as stream:
        stream.write(text)
