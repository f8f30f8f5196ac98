"""The Ansible Vault file format (``$ANSIBLE_VAULT;1.1|1.2;AES256``), read and written with ``cryptography``.

Declared credentials live in git encrypted the way Ansible encrypts them, so that operators can keep using
``ansible-vault view/edit`` on the same files and inline ``!vault |`` values. Reimplementing the format
(rather than importing ``ansible``) keeps ansible-core out of the runtime dependencies; the test suite
checks interoperability against the real ``ansible-vault`` in both directions.

The format, as ansible-core writes it::

    $ANSIBLE_VAULT;1.1;AES256              (or $ANSIBLE_VAULT;1.2;AES256;<vault-id>)
    <hex(hex(salt) "\\n" hex(hmac) "\\n" hex(ciphertext))>, wrapped at 80 columns, newline-terminated

* keys: PBKDF2-HMAC-SHA256(password, salt, 10000 iterations) -> 80 bytes = AES key (32) | HMAC key (32)
  | CTR initial counter block (16);
* ciphertext: AES-256-CTR over the PKCS7-padded (128-bit block) plaintext;
* hmac: HMAC-SHA256(HMAC key, ciphertext), verified before anything is decrypted.

Only the ciphertext is authenticated: the header (version, cipher name, vault id) is not, so a vault id is
a label for choosing a password, never evidence of anything.

Error messages never contain the password, the plaintext, or the input text (which, when it is not vault
data after all, may itself be a plaintext secret).
"""

from __future__ import annotations

import binascii
import os
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from enforcer.errors import VaultError, VaultFormatError, VaultPasswordError

__all__ = [
    "VaultError",
    "VaultFormatError",
    "VaultPasswordError",
    "decrypt",
    "encrypt",
    "is_vault",
    "vault_id",
]

_MAGIC = "$ANSIBLE_VAULT"
_CIPHER = "AES256"
_VERSIONS = ("1.1", "1.2")
_ITERATIONS = 10000  # fixed by the format; the salt is stored, the iteration count is not
_SALT_BYTES = 32
_KEY_BYTES = 32
_IV_BYTES = 16
_HMAC_BYTES = 32
_LINE_WIDTH = 80

# A vault id must survive the header's ``;`` split and Ansible's per-field ``strip()``, and the whole vault
# text must stay ASCII (ansible-core treats non-ASCII input as "not encrypted").
_VAULT_ID = re.compile(r"[!-:<-~]+")  # printable ASCII, no space, no ';'


def is_vault(text: str | bytes) -> bool:
    """Whether ``text`` looks like vault data (a ``$ANSIBLE_VAULT;`` header, leading whitespace allowed).

    A cheap check of the header only, so that callers can tell an encrypted value from a plaintext one
    without a password; :func:`decrypt` still validates everything else.
    """
    try:
        ascii_text = _to_ascii(text)
    except VaultFormatError:
        return False
    return ascii_text.lstrip().startswith(_MAGIC + ";")


def vault_id(vaulttext: str | bytes) -> str | None:
    """The vault id named in the header (format 1.2), or ``None`` when there is none (format 1.1).

    It only tells which password to try: the header is not authenticated. Raises :class:`VaultFormatError`
    if ``vaulttext`` is not well-formed vault data.
    """
    return _parse(vaulttext)[0]


def encrypt(plaintext: bytes, password: bytes, *, vault_id: str | None = None) -> str:
    """Encrypt ``plaintext`` under ``password`` with a fresh random salt.

    Writes format 1.2 with ``vault_id`` in the header when one is given, else format 1.1. The result ends in
    a newline, as ``ansible-vault`` writes it. Raises :class:`VaultError` for an empty password (Ansible
    refuses those) or a vault id that the header cannot carry (empty, non-ASCII, whitespace or ``;``).
    """
    return _encrypt(plaintext, password, vault_id=vault_id, salt=os.urandom(_SALT_BYTES))


def decrypt(vaulttext: str | bytes, password: bytes) -> bytes:
    """Decrypt vault data written by :func:`encrypt` or by ``ansible-vault`` (formats 1.1 and 1.2).

    Each line is stripped first, so the indented body of an inline YAML ``!vault |`` block can be passed as
    is (without the ``!vault |`` tag itself). The vault id in a 1.2 header plays no part in decryption.

    Raises :class:`VaultFormatError` for malformed input and :class:`VaultPasswordError` when the HMAC
    does not match.
    """
    _require_password(password)
    _, salt, expected_hmac, ciphertext = _parse(vaulttext)
    aes_key, hmac_key, iv = _derive_keys(password, salt)

    mac = HMAC(hmac_key, hashes.SHA256())
    mac.update(ciphertext)
    try:
        mac.verify(expected_hmac)  # constant-time comparison
    except InvalidSignature:
        raise VaultPasswordError("wrong vault password or corrupted data") from None

    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        # Only reachable if whoever held the HMAC key wrote a bad padding: authentic but malformed.
        raise VaultFormatError("malformed vault data: invalid padding after decryption") from None


def _encrypt(plaintext: bytes, password: bytes, *, vault_id: str | None, salt: bytes) -> str:
    """:func:`encrypt` with the salt supplied, so that tests can compare output byte for byte with Ansible."""
    _require_password(password)
    header = [_MAGIC, "1.1", _CIPHER]
    if vault_id is not None:
        if not _VAULT_ID.fullmatch(vault_id):
            raise VaultError("vault id must be non-empty printable ASCII without spaces or ';'")
        header = [_MAGIC, "1.2", _CIPHER, vault_id]

    aes_key, hmac_key, iv = _derive_keys(password, salt)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = HMAC(hmac_key, hashes.SHA256())
    mac.update(ciphertext)

    # The outer hexlify is redundant, but it is the format.
    inner = b"\n".join((binascii.hexlify(salt), binascii.hexlify(mac.finalize()), binascii.hexlify(ciphertext)))
    body = binascii.hexlify(inner).decode("ascii")
    lines = [";".join(header)]
    lines += [body[i : i + _LINE_WIDTH] for i in range(0, len(body), _LINE_WIDTH)]
    return "\n".join(lines) + "\n"


def _require_password(password: bytes) -> None:
    if not password:
        raise VaultError("vault password must not be empty")


def _derive_keys(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """PBKDF2 output split into (AES key, HMAC key, initial counter block)."""
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=2 * _KEY_BYTES + _IV_BYTES,
        salt=salt,
        iterations=_ITERATIONS,
    )
    derived = kdf.derive(password)
    return derived[:_KEY_BYTES], derived[_KEY_BYTES : 2 * _KEY_BYTES], derived[2 * _KEY_BYTES :]


def _to_ascii(text: str | bytes) -> str:
    """The text as ``str``; vault data is pure ASCII, so anything else is not vault data."""
    try:
        if isinstance(text, bytes):
            return text.decode("ascii")
        text.encode("ascii")
        return text
    except UnicodeError:
        # ``from None``: the Unicode error carries the input, which may be a plaintext secret.
        raise VaultFormatError("not vault data: contains non-ASCII characters") from None


def _parse(vaulttext: str | bytes) -> tuple[str | None, bytes, bytes, bytes]:
    """Split vault text into (vault id, salt, expected HMAC, ciphertext), checking the structure."""
    lines = [line.strip() for line in _to_ascii(vaulttext).strip().splitlines()]
    if not lines or not lines[0].startswith(_MAGIC + ";"):
        raise VaultFormatError("not vault data: missing $ANSIBLE_VAULT header")

    fields = [field.strip() for field in lines[0].split(";")]
    if len(fields) not in (3, 4):
        raise VaultFormatError(f"malformed vault header: expected 3 or 4 ';'-separated fields, got {len(fields)}")
    version, cipher = fields[1], fields[2]
    if version not in _VERSIONS:
        raise VaultFormatError(f"unsupported vault format version {_quote(version)} (supported: 1.1, 1.2)")
    if cipher != _CIPHER:
        raise VaultFormatError(f"unsupported vault cipher {_quote(cipher)} (supported: {_CIPHER})")
    # ansible-core reads a fourth field whatever the version, and writes one only with 1.2.
    vid = fields[3] if len(fields) == 4 else None
    if vid == "":
        raise VaultFormatError("malformed vault header: empty vault id")

    body = "".join(lines[1:])
    if not body:
        raise VaultFormatError("malformed vault data: empty body")
    try:
        parts = binascii.unhexlify(body).split(b"\n")
        if len(parts) != 3:
            raise VaultFormatError(f"malformed vault body: expected 3 newline-separated parts, got {len(parts)}")
        salt, expected_hmac, ciphertext = (binascii.unhexlify(part) for part in parts)
    except binascii.Error as exc:
        raise VaultFormatError(f"malformed vault body: not hexadecimal ({exc})") from None

    if not salt:
        raise VaultFormatError("malformed vault body: empty salt")
    if len(expected_hmac) != _HMAC_BYTES:
        raise VaultFormatError(f"malformed vault body: HMAC is {len(expected_hmac)} bytes, expected {_HMAC_BYTES}")
    block = algorithms.AES.block_size // 8
    if not ciphertext or len(ciphertext) % block:
        raise VaultFormatError(
            f"malformed vault body: ciphertext length {len(ciphertext)} is not a positive multiple of {block}"
        )
    return vid, salt, expected_hmac, ciphertext


def _quote(value: str, limit: int = 32) -> str:
    """A header field for an error message, shortened: it is attacker- or typo-controlled text."""
    return repr(value if len(value) <= limit else value[:limit] + "...")
