"""Tests of ``enforcer.config.vault``: round trips, interoperability with the real ``ansible-vault``, errors.

The interop tests call the ``ansible-vault`` installed next to the running interpreter (ansible-core is a
declared test dependency), so a missing CLI is a failure, not a skip.
"""

from __future__ import annotations

import binascii
import functools
import traceback
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.config import vault
from enforcer.config.vault import decrypt, encrypt, is_vault, vault_id
from enforcer.errors import VaultError, VaultFormatError, VaultPasswordError
from tests.unit.ansiblevault import AnsibleVaultCli

# Distinctive markers, so that a leak into an error message or traceback is easy to detect.
PASSWORD = "correct horse \u00e9 battery-PWMARK".encode()
PLAINTEXT = b"user: admin\npassword: PTMARK-p\xc3\xa4ss;word\n\x00\xff\n"
FAST = settings(max_examples=25, deadline=None)

passwords = st.binary(min_size=1, max_size=64)
vault_ids = st.from_regex(r"[!-:<-~]{1,20}", fullmatch=True)


@pytest.fixture
def cli(tmp_path: Path) -> AnsibleVaultCli:
    return AnsibleVaultCli(tmp_path, PASSWORD)


def assert_no_secrets_in(exc: BaseException, *secrets: bytes) -> None:
    """Neither the message nor any exception a traceback would print with it may carry a secret."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    rendered = "\n".join(line for e in chain for line in (*traceback.format_exception_only(e), repr(e)))
    for secret in secrets:
        for needle in {secret.decode("utf-8", "replace"), repr(secret), secret.hex()}:
            assert needle not in rendered
    assert "PWMARK" not in rendered
    assert "PTMARK" not in rendered


def reassemble(header: str, salt: bytes, mac: bytes, ciphertext: bytes) -> str:
    """Vault text from raw parts, for crafting malformed or tampered inputs."""
    inner = b"\n".join(binascii.hexlify(part) for part in (salt, mac, ciphertext))
    return header + "\n" + binascii.hexlify(inner).decode() + "\n"


def parts(vaulttext: str) -> tuple[str, bytes, bytes, bytes]:
    header, *body = vaulttext.splitlines()
    salt, mac, ciphertext = (binascii.unhexlify(p) for p in binascii.unhexlify("".join(body)).split(b"\n"))
    return header, salt, mac, ciphertext


# --- round trip and shape -------------------------------------------------------------------------------


@FAST
@given(plaintext=st.binary(max_size=300), password=passwords)
def test_round_trip_format_1_1(plaintext: bytes, password: bytes) -> None:
    text = encrypt(plaintext, password)
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert vault_id(text) is None
    assert decrypt(text, password) == plaintext


@FAST
@given(plaintext=st.binary(max_size=300), password=passwords, label=vault_ids)
def test_round_trip_format_1_2(plaintext: bytes, password: bytes, label: str) -> None:
    text = encrypt(plaintext, password, vault_id=label)
    assert text.startswith(f"$ANSIBLE_VAULT;1.2;AES256;{label}\n")
    assert vault_id(text) == label
    assert decrypt(text, password) == plaintext


def test_output_shape() -> None:
    text = encrypt(PLAINTEXT, PASSWORD)
    assert text.endswith("\n")
    header, *body = text.splitlines()
    assert header == "$ANSIBLE_VAULT;1.1;AES256"
    assert all(len(line) == 80 for line in body[:-1])
    assert 0 < len(body[-1]) <= 80
    _, salt, mac, ciphertext = parts(text)
    assert len(salt) == 32
    assert len(mac) == 32
    assert len(ciphertext) == (len(PLAINTEXT) // 16 + 1) * 16  # PKCS7 always adds 1..16 bytes


def test_salt_is_fresh_each_time() -> None:
    assert encrypt(PLAINTEXT, PASSWORD) != encrypt(PLAINTEXT, PASSWORD)


def test_empty_plaintext_still_has_a_padding_block() -> None:
    text = encrypt(b"", PASSWORD)
    assert len(parts(text)[3]) == 16
    assert decrypt(text, PASSWORD) == b""


def test_decrypt_accepts_indentation_crlf_and_bytes() -> None:
    text = encrypt(PLAINTEXT, PASSWORD, vault_id="prod")
    indented = "".join("          " + line + "\r\n" for line in text.splitlines())
    assert decrypt(indented, PASSWORD) == PLAINTEXT
    assert decrypt(text.encode("ascii"), PASSWORD) == PLAINTEXT
    assert vault_id(indented) == "prod"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$ANSIBLE_VAULT;1.1;AES256\n3132\n", True),
        (b"$ANSIBLE_VAULT;1.2;AES256;lab\n3132\n", True),
        ("\n    $ANSIBLE_VAULT;1.1;AES256\n    3132\n", True),
        ("password: hunter2\n", False),
        ("", False),
        ("$ANSIBLE_VAULTX;1.1;AES256\n", False),
        ("$ANSIBLE_VAULT;1.1;AES256\n\u00e9", False),
        (b"$ANSIBLE_VAULT;1.1;AES256\n\xff", False),
    ],
)
def test_is_vault(text: str | bytes, expected: bool) -> None:
    assert is_vault(text) is expected


def test_is_vault_on_own_output() -> None:
    assert is_vault(encrypt(PLAINTEXT, PASSWORD))
    assert is_vault(encrypt(PLAINTEXT, PASSWORD, vault_id="lab"))


# --- interoperability with the real ansible-vault ------------------------------------------------------


@pytest.mark.parametrize("label", [None, "lab"])
def test_ansible_vault_decrypts_ours(cli: AnsibleVaultCli, label: str | None) -> None:
    assert cli.decrypt_text(encrypt(PLAINTEXT, PASSWORD, vault_id=label)) == PLAINTEXT


@pytest.mark.parametrize("label", [None, "lab"])
def test_we_decrypt_ansible_vault_encrypt(cli: AnsibleVaultCli, label: str | None) -> None:
    text = cli.encrypt_file(PLAINTEXT, label)
    expected_header = "$ANSIBLE_VAULT;1.1;AES256" if label is None else f"$ANSIBLE_VAULT;1.2;AES256;{label}"
    assert text.splitlines()[0] == expected_header
    assert vault_id(text) == label
    assert decrypt(text, PASSWORD) == PLAINTEXT


@pytest.mark.parametrize("label", [None, "lab"])
def test_we_decrypt_ansible_vault_encrypt_string(cli: AnsibleVaultCli, label: str | None) -> None:
    secret = "PTMARK ünïcode; p@ss\nsecond line"
    out = cli.run("encrypt_string", *cli.secret_args(label), "--name", "device_password", secret).decode()
    assert out.startswith("device_password: !vault |\n")
    block = out.split("!vault |\n", 1)[1]  # the indented block, indentation kept
    assert block.startswith("          $ANSIBLE_VAULT;")
    assert is_vault(block)
    assert vault_id(block) == label
    assert decrypt(block, PASSWORD) == secret.encode()


@pytest.mark.parametrize("label", [None, "lab"])
@pytest.mark.parametrize("salt", ["0123456789abcdef0123456789abcdef", "abc"])
def test_byte_identical_to_ansible_vault_with_fixed_salt(cli: AnsibleVaultCli, label: str | None, salt: str) -> None:
    """With the salt pinned (ANSIBLE_VAULT_ENCRYPT_SALT), the whole format must match byte for byte."""
    theirs = cli.encrypt_file(PLAINTEXT, label, extra_env={"ANSIBLE_VAULT_ENCRYPT_SALT": salt})
    ours = vault._encrypt(PLAINTEXT, PASSWORD, vault_id=label, salt=salt.encode())
    assert ours == theirs
    assert decrypt(theirs, PASSWORD) == PLAINTEXT  # including a salt that is not 32 bytes


# --- errors ---------------------------------------------------------------------------------------------


def test_wrong_password() -> None:
    text = encrypt(PLAINTEXT, PASSWORD)
    with pytest.raises(VaultPasswordError, match=r"^wrong vault password or corrupted data$") as info:
        decrypt(text, b"not-the-PWMARK")
    assert_no_secrets_in(info.value, PASSWORD, PLAINTEXT, b"not-the-PWMARK")


def test_tampered_ciphertext_is_a_password_error() -> None:
    header, salt, mac, ciphertext = parts(encrypt(PLAINTEXT, PASSWORD))
    flipped = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    with pytest.raises(VaultPasswordError) as info:
        decrypt(reassemble(header, salt, mac, flipped), PASSWORD)
    assert_no_secrets_in(info.value, PASSWORD, PLAINTEXT)


def test_vault_id_is_not_authenticated() -> None:
    """Documented property of the format: the header can be edited without breaking the HMAC."""
    text = encrypt(PLAINTEXT, PASSWORD, vault_id="prod")
    relabelled = text.replace(";prod\n", ";lab\n", 1)
    assert vault_id(relabelled) == "lab"
    assert decrypt(relabelled, PASSWORD) == PLAINTEXT


@functools.cache
def _good() -> str:
    return encrypt(PLAINTEXT, PASSWORD)


def _body_lines() -> list[str]:
    return _good().splitlines()[1:]


def _crafted(**changes: bytes) -> str:
    header, salt, mac, ciphertext = parts(_good())
    fields = {"salt": salt, "mac": mac, "ciphertext": ciphertext, **changes}
    return reassemble(header, fields["salt"], fields["mac"], fields["ciphertext"])


MALFORMED: list[tuple[str, str, str]] = [
    ("plaintext", PLAINTEXT.decode("utf-8", "replace"), "not vault data"),
    ("secret-looking ascii", "device_password: PTMARK-hunter2\n", "not vault data"),
    ("empty", "", "not vault data"),
    ("non-ascii", "$ANSIBLE_VAULT;1.1;AES256\nPTMARK\u00e9\n", "non-ASCII"),
    (
        "unknown cipher",
        "$ANSIBLE_VAULT;1.1;AES\n" + "\n".join(_body_lines()),
        "unsupported vault cipher 'AES'",
    ),
    ("unknown version", "$ANSIBLE_VAULT;1.0;AES256\n" + "\n".join(_body_lines()), "version '1.0'"),
    ("short header", "$ANSIBLE_VAULT;1.1\n" + "\n".join(_body_lines()), "malformed vault header"),
    ("long header", "$ANSIBLE_VAULT;1.2;AES256;a;b\n" + "\n".join(_body_lines()), "malformed vault header"),
    ("empty vault id", "$ANSIBLE_VAULT;1.2;AES256;\n" + "\n".join(_body_lines()), "empty vault id"),
    ("header only", "$ANSIBLE_VAULT;1.1;AES256\n", "empty body"),
    ("truncated (odd length)", _good().rstrip("\n")[:-7], "not hexadecimal"),
    ("truncated (lines lost)", "\n".join(_good().splitlines()[:2]), "expected 3 newline-separated parts"),
    ("garbled", _good().replace("3", "z"), "not hexadecimal"),
    ("garbled inner hex", "$ANSIBLE_VAULT;1.1;AES256\n" + b"zz\nzz\nzz".hex(), "not hexadecimal"),
    ("short hmac", _crafted(mac=b"\x01" * 31), "HMAC is 31 bytes"),
    ("empty salt", _crafted(salt=b""), "empty salt"),
    ("ragged ciphertext", _crafted(ciphertext=b"\x00" * 17), "ciphertext length 17"),
    ("empty ciphertext", _crafted(ciphertext=b""), "ciphertext length 0"),
]


@pytest.mark.parametrize(("text", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_is_a_format_error(text: str, message: str) -> None:
    with pytest.raises(VaultFormatError, match=message) as info:
        decrypt(text, PASSWORD)
    assert_no_secrets_in(info.value, PASSWORD, PLAINTEXT)
    assert isinstance(info.value, ValueError)


def test_vault_id_of_non_vault_is_a_format_error() -> None:
    with pytest.raises(VaultFormatError, match="not vault data") as info:
        vault_id("PTMARK-hunter2")
    assert_no_secrets_in(info.value)


@FAST
@given(data=st.data())
def test_any_truncation_or_corruption_is_rejected_or_harmless(data: st.DataObject) -> None:
    """Damage surfaces as one of our errors, never as a stray exception or a different plaintext.

    Some edits are harmless: whitespace (lines are stripped), and upper-casing an inner hex digit by
    editing the outer hex (``61`` 'a' -> ``41`` 'A'), since hex decoding ignores case.
    """
    text = _good()
    cut = data.draw(st.integers(min_value=0, max_value=len(text) - 2))
    position = data.draw(st.integers(min_value=len("$ANSIBLE_VAULT;1.1;AES256\n"), max_value=len(text) - 2))
    char = data.draw(st.sampled_from("0123456789abcdefABCDEFz \n"))
    corrupted = text[:position] + char + text[position + 1 :]
    for damaged in (text[:cut], corrupted):
        try:
            result = decrypt(damaged, PASSWORD)
        except VaultError as exc:
            assert_no_secrets_in(exc, PASSWORD, PLAINTEXT)
        else:
            assert result == PLAINTEXT
            assert vault._parse(damaged) == vault._parse(text)


@FAST
@given(junk=st.one_of(st.text(), st.binary()))
def test_arbitrary_input_is_a_format_error(junk: str | bytes) -> None:
    with pytest.raises(VaultFormatError):
        decrypt(junk, PASSWORD)


def test_empty_password_is_refused() -> None:
    with pytest.raises(VaultError, match="must not be empty"):
        encrypt(PLAINTEXT, b"")
    with pytest.raises(VaultError, match="must not be empty"):
        decrypt(_good(), b"")


@pytest.mark.parametrize("label", ["", "a;b", "a b", " lab", "lab\n", "\u00e9t\u00e9"])
def test_encrypt_rejects_vault_ids_the_header_cannot_carry(label: str) -> None:
    with pytest.raises(VaultError, match="vault id"):
        encrypt(PLAINTEXT, PASSWORD, vault_id=label)
