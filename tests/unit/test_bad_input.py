"""Every kind of bad input gives exit 1 and a message naming file, line and key, with no traceback."""

from __future__ import annotations

import pytest

from enforcer.config import vault
from tests.unit.conftest import Repo


def _fails_at(repo: Repo, line: int, key: str, *fragments: str) -> str:
    code, out, err = repo.run("validate", "site.yml")
    assert code == 1, (out, err)
    assert "Traceback" not in err
    assert f"inventory.yml:{line}: {key}" in err, err
    for fragment in fragments:
        assert fragment in err, err
    assert "nothing was touched" in err
    return err


def test_valid_repo_passes(repo: Repo) -> None:
    code, out, err = repo.run("validate", "site.yml")
    assert code == 0, err
    assert "site.yml is valid" in out
    assert "1 play, 1 site, 3 devices (1 recorder, 2 cameras), 1 client" in out


def test_yaml_syntax_error(repo: Repo) -> None:
    repo.replace("  hq:\n", "  hq:\n    vars: {net: [10.1.0}\n")
    code, _, err = repo.run("validate", "site.yml")
    assert code == 1
    assert f"inventory.yml:{repo.line_of('[10.1.0}')}: sites.hq.vars.net[0]: YAML syntax error" in err


def test_schema_violation_out_of_range(repo: Repo) -> None:
    repo.replace("max_attempts: 5", "max_attempts: 50")
    _fails_at(repo, repo.line_of("max_attempts"), "defaults.lock_policy.max_attempts", "50 is greater than")


def test_unknown_key_suggests_the_right_one(repo: Repo) -> None:
    repo.replace("    recorders:\n", "    recoders:\n")
    _fails_at(
        repo,
        repo.line_of("recoders"),
        "sites.hq.recoders",
        "unknown key 'recoders'",
        "did you mean 'recorders'?",
    )


def test_unknown_key_on_a_device(repo: Repo) -> None:
    repo.replace("recorder: nvr, channel: 1}", "recorder: nvr, channel: 1, chanel_user: admin}")
    _fails_at(repo, repo.line_of("chanel_user"), "sites.hq.cameras.cam1.chanel_user", "did you mean 'channel_user'?")


def test_wrong_type(repo: Repo) -> None:
    repo.replace('address: "{{ net }}.10"}', 'address: "{{ net }}.10", port: eighty}')
    _fails_at(
        repo,
        repo.line_of("port: eighty"),
        "sites.hq.recorders.nvr.port",
        "expected an integer, got string 'eighty'",
    )


def test_wrong_enum_value(repo: Repo) -> None:
    repo.replace("vendor: annke", "vendor: anke")
    _fails_at(repo, repo.line_of("vendor: anke"), "sites.hq.cameras.cam1.vendor", "did you mean 'annke'?")


def test_plaintext_password_is_refused(repo: Repo) -> None:
    repo.replace('password: !secret "env:NW_OPERATOR"', "password: hunter22")
    _fails_at(
        repo,
        repo.line_of("hunter22"),
        "defaults.accounts.operator.password",
        "must be a secret reference, never plaintext",
    )


def test_duplicate_yaml_key(repo: Repo) -> None:
    repo.replace("      cam2:", "      cam1: {vendor: annke, model: C800, address: 10.1.0.30}\n      cam2:")
    line = repo.line_of("address: 10.1.0.30")
    _fails_at(repo, line, "sites.hq.cameras.cam1", "duplicate key 'cam1' (first defined on line")


def test_duplicate_device_name_across_roles(repo: Repo) -> None:
    repo.replace("      desk:", "      nvr: {kind: manual, what: a phone, holds: [cam1]}\n      desk:")
    _fails_at(
        repo,
        repo.line_of("nvr: {kind: manual"),
        "sites.hq.clients.nvr",
        "name 'nvr' is used twice in site hq",
    )


def test_duplicate_address(repo: Repo) -> None:
    repo.replace('address: "{{ net }}.22"', 'address: "{{ net }}.21"')
    _fails_at(
        repo,
        repo.line_of("cam2:"),
        "sites.hq.cameras.cam2.address",
        "address 10.1.0.21:80 is also used by cam1",
    )


def test_camera_whose_recorder_does_not_exist(repo: Repo) -> None:
    repo.replace("recorder: nvr, channel: 2", "recorder: nvr-02, channel: 2")
    _fails_at(
        repo,
        repo.line_of("nvr-02"),
        "sites.hq.cameras.cam2.recorder",
        "recorder 'nvr-02' does not exist",
        "recorders here: nvr",
    )


def test_client_holding_an_unknown_device(repo: Repo) -> None:
    repo.replace("holds: [nvr]", "holds: [nvr, cam9]")
    _fails_at(
        repo,
        repo.line_of("holds: [nvr, cam9]"),
        "sites.hq.clients.desk.holds[1]",
        "'cam9', which is not a device",
    )


def test_undefined_template_variable(repo: Repo) -> None:
    repo.replace('address: "{{ net }}.21"', 'address: "{{ nett }}.21"')
    _fails_at(repo, repo.line_of("nett"), "sites.hq.cameras.cam1.address", "undefined variable: 'nett' is undefined")


def test_missing_environment_variable(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NW_CAMERA")
    _fails_at(
        repo,
        repo.line_of("NW_CAMERA"),
        "defaults.cameras.accounts.admin.password",
        "environment variable NW_CAMERA is not set",
    )


def test_missing_secret_file(repo: Repo) -> None:
    repo.replace('!secret "env:NW_OPERATOR"', '!secret "file:secrets/operator.txt"')
    _fails_at(
        repo,
        repo.line_of("operator.txt"),
        "defaults.accounts.operator.password",
        "file secrets/operator.txt not found",
    )


def test_wrong_vault_password(repo: Repo) -> None:
    (repo.root / "pw.txt").write_text("the-right-one\n")
    (repo.root / "wrong.txt").write_text("not-the-right-one\n")
    (repo.root / "s.vault").write_text(vault.encrypt(b"operator: Op3rator-Sec-441\n", b"the-right-one"))
    repo.replace("organisation: test-msp\n", 'organisation: test-msp\nvault_password: !secret "file:wrong.txt"\n')
    repo.replace('!secret "env:NW_OPERATOR"', '!secret "vault:s.vault#operator"')
    _fails_at(
        repo,
        repo.line_of("s.vault#operator"),
        "defaults.accounts.operator.password",
        "wrong vault password for vault file s.vault",
    )
    repo.replace('"file:wrong.txt"', '"file:pw.txt"')
    assert repo.run("validate", "site.yml")[0] == 0


def test_missing_vault_key(repo: Repo) -> None:
    (repo.root / "pw.txt").write_text("pw\n")
    (repo.root / "s.vault").write_text(vault.encrypt(b"admin: x\n", b"pw"))
    repo.replace("organisation: test-msp\n", 'organisation: test-msp\nvault_password: !secret "file:pw.txt"\n')
    repo.replace('!secret "env:NW_OPERATOR"', '!secret "vault:s.vault#operator"')
    _fails_at(
        repo,
        repo.line_of("s.vault#operator"),
        "defaults.accounts.operator.password",
        "vault file s.vault has no key 'operator'",
    )


def test_firmware_image_missing(repo: Repo) -> None:
    (repo.root / "fw.dav").unlink()
    _fails_at(repo, repo.line_of("image: fw.dav"), "firmware.DS-7608NXI-I2.image", "firmware image fw.dav not found")


def test_firmware_image_wrong_sha256(repo: Repo) -> None:
    (repo.root / "fw.dav").write_bytes(b"a different download")
    _fails_at(repo, repo.line_of("sha256:"), "firmware.DS-7608NXI-I2.sha256", "firmware image fw.dav has sha256")


def test_unknown_group(repo: Repo) -> None:
    repo.replace("  hq:\n", "  hq:\n    groups: [retial]\n")
    _fails_at(repo, repo.line_of("retial"), "sites.hq.groups[0]", "unknown group 'retial'")


def test_every_problem_is_reported_in_one_run(repo: Repo) -> None:
    repo.replace('address: "{{ net }}.21"', 'address: "{{ nett }}.21"')
    repo.replace("recorder: nvr, channel: 2", "recorder: nvr-02, channel: 2")
    (repo.root / "fw.dav").unlink()
    code, _, err = repo.run("validate", "site.yml")
    assert code == 1
    assert "'nett' is undefined" in err and "'nvr-02' does not exist" in err and "fw.dav not found" in err
    assert "3 errors" in err


def test_playbook_site_pattern_matching_nothing(repo: Repo) -> None:
    repo.playbook.write_text("- name: x\n  inventory: inventory.yml\n  sites: [hw]\n")
    code, _, err = repo.run("validate", "site.yml")
    assert code == 1
    assert "site.yml:3: [0].sites[0]: 'hw' matches no site, group or device (hint: did you mean 'hq'?)" in err.replace(
        "\n  hint: ", " (hint: "
    ).replace("?\n", "?)\n")


def test_playbook_unknown_key_and_missing_inventory(repo: Repo) -> None:
    repo.playbook.write_text("- name: x\n  inventory: nowhere.yml\n  enforcce: [credentials]\n")
    code, _, err = repo.run("validate", "site.yml")
    assert code == 1
    assert "site.yml:3: [0].enforcce: unknown key 'enforcce'" in err
    assert "did you mean 'enforce'?" in err


def test_json_output_lists_problems(repo: Repo) -> None:
    import json

    repo.replace("vendor: annke", "vendor: anke")
    code, out, _ = repo.run("validate", "site.yml", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    [problem] = report["problems"]
    assert problem["line"] == repo.line_of("vendor: anke")
    assert problem["key"] == "sites.hq.cameras.cam1.vendor"


def test_usage_error_exits_1_not_2(repo: Repo) -> None:
    with pytest.raises(SystemExit) as exit:
        repo.run("validate")
    assert exit.value.code == 1


def test_a_password_the_firmware_would_refuse_is_refused_before_any_device(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hikvision firmware takes at most 16 characters; the inherited default is reported where it is written."""
    monkeypatch.setenv("NW_LONG", "Seventeen-chars-1")
    repo.replace('password: !secret "env:NW_ADMIN"', 'password: !secret "env:NW_LONG"')
    where = repo.line_of("env:NW_LONG")
    err = _fails_at(repo, where, "defaults.accounts.admin.password", "hikvision firmware would refuse")
    assert "16 characters" in err and "Seventeen-chars-1" not in err


def test_a_dahua_password_with_a_forbidden_character_is_refused(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NW_SEMI", "Has;Semicolon1")
    repo.replace(
        'cam2: {vendor: hikvision, model: DS-2CD2146G2-ISU, address: "{{ net }}.22", recorder: nvr, channel: 2}',
        'cam2: {vendor: dahua, model: IPC-HDW2431T, address: "{{ net }}.22", recorder: nvr, channel: 2,\n'
        '             accounts: {admin: {password: !secret "env:NW_SEMI"}}}',
    )
    err = _fails_at(
        repo,
        repo.line_of("env:NW_SEMI"),
        "sites.hq.cameras.cam2.accounts.admin.password",
        "dahua firmware would refuse",
    )
    assert "must not contain any of" in err and "Has;Semicolon1" not in err


@pytest.mark.parametrize(
    ("command", "damaged"),
    [
        ("facts", "credentials.vault"),
        ("plan", "credentials.vault"),
        ("apply", "credentials.vault"),
        ("apply", ".enforcer/journal.db"),
    ],
)
def test_a_damaged_store_or_journal_is_an_error_never_a_traceback(repo: Repo, command: str, damaged: str) -> None:
    """Both are refused before any device is contacted (none could be: the repo's addresses are made up)."""
    (repo.root / "vault-password").write_text("the-vault-password\n")
    target = repo.root / damaged
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(b"this is not what enforcer wrote\0\x01" * 40)
    args = [command, "site.yml", "--vault-password-file", "vault-password"] + (["--yes"] if command == "apply" else [])
    code, out, err = repo.run(*args)
    assert code == 1, (out, err)
    assert "Traceback" not in out + err
    if damaged.endswith("journal.db"):
        assert "journal" in err and "move it aside" in err, err
    else:
        assert "credential store" in err, err


def test_a_password_a_holder_would_refuse_to_store_is_refused_before_any_device(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Milestone stores letters and digits only: a device password with a symbol, held by an XProtect server,
    would change the device and then fail the client phase (the site left isolated). Refused at the hold."""
    monkeypatch.setenv("NW_VMS", "Vms-Service-Pw1")
    repo.replace(
        "      desk: {kind: manual, what: iVMS-4200 at the desk, holds: [nvr]}\n",
        "      desk: {kind: manual, what: iVMS-4200 at the desk, holds: [nvr]}\n"
        '      vms: {kind: milestone, url: "https://10.1.0.5", username: svc, password: !secret "env:NW_VMS",\n'
        "            holds: [cam1]}\n",
    )
    err = _fails_at(
        repo,
        repo.line_of("holds: [cam1]"),
        "sites.hq.clients.vms.holds[0]",
        "vms (milestone) would refuse cam1's admin password: it may hold letters and digits only",
    )
    assert "Cam3ra-Secret-99" not in err


@pytest.mark.parametrize("folder", ["group_vars", "host_vars"])
def test_ansible_variable_folders_are_refused_not_ignored(repo: Repo, folder: str) -> None:
    (repo.root / folder).mkdir()
    (repo.root / folder / "retail.yml").write_text("lock_policy: {lock_minutes: 10}\n")
    code, _, err = repo.run("validate", "site.yml")
    assert code == 1 and f"{folder}/ is Ansible's layout, which enforcer does not read" in err, err
