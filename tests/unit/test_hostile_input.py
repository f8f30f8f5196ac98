"""Hostile and broken input: each case is refused with exit 1, naming file, line and key, with no
traceback, in under 2 s and 200 MB.

Each case builds the small valid repo of ``conftest`` in a temporary folder, breaks it one way, and
runs ``enforce validate`` in a subprocess of its own, so that its peak memory can be measured (and
so that a regression that hangs or explodes cannot take the test run with it).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enforcer.config import _confine, _env, _yaml, limits
from enforcer.config.diagnostics import Diagnostics
from enforcer.config.secrets import SecretResolver
from enforcer.config.templating import TemplateError, render_file
from enforcer.errors import SecretError
from tests.unit.conftest import IMAGE, INVENTORY, PLAYBOOK, SECRETS

MAX_SECONDS = 2.0  # CPU seconds: what the input costs us, whatever else the machine runs
MAX_MEGABYTES = 200

#: Runs one validation and reports its exit code, CPU time and peak memory to the file named in argv[1].
#: The peak is this process's own (VmHWM): ``ru_maxrss`` also counts the parent's peak on Linux, as a
#: vforked child inherits it. The address space is capped so that a regression cannot exhaust the machine.
RUNNER = """
import json, re, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from enforcer.cli import main
start = time.process_time()
code = main(sys.argv[2:])
elapsed = time.process_time() - start
try:
    with open("/proc/self/status") as status:
        peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with open(sys.argv[1], "w") as report:
    json.dump({"code": code, "seconds": elapsed, "megabytes": peak}, report)
"""


class Tree:
    """The conftest repo on disk, with the edits a case makes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "fw.dav").write_bytes(IMAGE)
        (root / "inventory.yml").write_text(INVENTORY % {"sha": hashlib.sha256(IMAGE).hexdigest()})
        (root / "site.yml").write_text(PLAYBOOK)
        self.outside = root.parent / f"{root.name}-outside"
        self.outside.mkdir()
        (self.outside / "secret.txt").write_text("OUTSIDE-SECRET-7f3a\n")

    def replace(self, old: str, new: str, file: str = "inventory.yml") -> None:
        path = self.root / file
        text = path.read_text()
        assert old in text, f"{file} does not contain {old!r}"
        path.write_text(text.replace(old, new, 1))

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
        return path

    def link(self, name: str, target: Path) -> None:
        (self.root / name).symlink_to(target)

    def operator(self, ref: str) -> None:
        """Make the operator password the reference ``ref``."""
        self.replace('!secret "env:NW_OPERATOR"', f'!secret "{ref}"')

    def address(self, template: str) -> None:
        """Make the recorder's address the jinja2 string ``template`` (YAML single-quoted)."""
        self.replace('address: "{{ net }}.10"', "address: '" + template.replace("'", "''") + "'")

    def ssh_client(self, template: str, source: str | None = None) -> None:
        """Add an SSH client whose config file is rendered from ``template`` (written if ``source``)."""
        self.replace(
            "      desk:",
            "      frigate:\n"
            "        kind: ssh\n"
            "        address: 10.1.0.40\n"
            "        user: enforcer\n"
            '        password: !secret "env:NW_ADMIN"\n'
            "        service: frigate\n"
            f"        files: [{{path: /etc/frigate.env, template: '{template}'}}]\n"
            "        holds: [nvr]\n"
            "      desk:",
        )
        self.write("known_hosts", f"10.1.0.40 {HOST_KEY}\n")
        if source is not None:
            self.write(template, source)

    def vars(self, text: str) -> None:
        """Put ``text`` (YAML lines) under a top-level ``vars:`` just after the organisation."""
        self.replace("organisation: test-msp\n", "organisation: test-msp\nvars:\n" + text)


@dataclass(frozen=True)
class Case:
    """One hostile input: how to break the repo, and what the error must name."""

    id: str
    make: Callable[[Tree], None]
    line: int | str | Callable[[bytes], int]  # the line, a text on it (its first), or how to find it
    key: str
    says: str
    file: str = "inventory.yml"


OPERATOR = "defaults.accounts.operator.password"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKNWS1NRUrkcXRHNydkbyBtNchUNzAKZzXLpZo9IKWXm"
ADDRESS = "sites.hq.recorders.nvr.address"
TEMPLATE = "sites.hq.clients.frigate.files[0].template"
IMAGE_KEY = "firmware.DS-7608NXI-I2.image"
TOO_MANY = "more than 250,000 values"
NOT_ALLOWED = "is not allowed: a template is self-contained"


def _top(line: str) -> Callable[[Tree], None]:
    """Add ``line`` at the top of the inventory, after its secrets declaration."""
    return lambda t: t.replace("secrets: {env: [NW_*]}\n", "secrets: {env: [NW_*]}\n" + line + "\n")


def _declare_and_read(pattern: str, name: str) -> Callable[[Tree], None]:
    return lambda t: (t.replace("[NW_*]", f"[NW_*, {pattern}]"), t.operator(f"env:{name}"))


def _alias_bomb(t: Tree) -> None:
    lines = ["  l0: &l0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 7)]
    t.vars("\n".join(lines) + "\n")


def _merge_bomb(t: Tree) -> None:
    lines = ["  m0: &m0 {" + ", ".join(f"k{i}: v" for i in range(40)) + "}"]
    lines += [f"  m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 8)}]}}" for i in range(1, 9)]
    t.vars("\n".join(lines) + "\n")


def _string_bomb(t: Tree) -> None:
    """Few values, but each a 200 KB string: every use would cost a check and a message of that size."""
    t.vars(f"  big: &big {'x' * 200_000}\n  l1: &l1 [{', '.join(['*big'] * 10)}]\n  l2: [{', '.join(['*l1'] * 10)}]\n")


def _inherited_loops(t: Tree) -> None:
    """A template that runs to the per-rendering limit, in the defaults: rendered once per device."""
    t.replace('!secret "env:NW_OPERATOR"', "!secret 'vault:" + NESTED + "#k'")
    cameras = "".join(
        f"      c{i}: {{vendor: annke, model: m, address: 10.9.{i // 200}.{i % 200 + 1}}}\n" for i in range(400)
    )
    t.replace("    cameras:\n", "    cameras:\n" + cameras)


def _playbook_bomb(t: Tree) -> None:
    lines = ["- name: x", "  inventory: inventory.yml", "  sites: &s0 [a, a, a, a, a, a, a, a]"]
    lines += [f"  s{i}: &s{i} [{', '.join([f'*s{i - 1}'] * 8)}]" for i in range(1, 8)]
    t.write("site.yml", "\n".join(lines) + "\n")


def _too_big(t: Tree) -> None:
    t.vars("".join(f"  pad{i}: {'x' * 60}\n" for i in range(20_000)))


def _line_past_limit(content: bytes) -> int:
    return content[: limits.MAX_FILE_BYTES].count(b"\n") + 1


def _not_utf8(t: Tree) -> None:
    path = t.root / "inventory.yml"
    path.write_bytes(path.read_bytes().replace(b"vars: {net: 10.1.0}", b"vars: {net: 10.1.0, x: CAF\xe9}"))


def _template_folder_link(t: Tree) -> None:
    t.link("templates", t.outside)
    (t.outside / "frigate.j2").write_text("X={{ client }}\n")
    t.ssh_client("templates/frigate.j2")


def _image_link(t: Tree) -> None:
    (t.root / "fw.dav").unlink()
    t.link("fw.dav", t.outside / "secret.txt")


def _fifo(t: Tree) -> None:
    os.mkfifo(t.root / "pipe")
    t.operator("file:pipe")


def _markup_path(t: Tree) -> None:
    t.write("a[/]b.yml", "- name: x\n  inventory: ../inventory.yml\n  enforcce: [credentials]\n")


NESTED = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}x"
EXPONENTIAL = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"

# fmt: off
CASES = [
    # id, how to break the repo, the line (or a text on it), the key, a fragment of the message[, the file]
    # --- env: reads ENFORCE_* and what secrets.env declares, never CI or cloud credentials
    Case("env-undeclared", lambda t: t.operator("env:DATABASE_PASSWORD"), "DATABASE", OPERATOR,
         "DATABASE_PASSWORD is not allowed"),
    Case("env-ci-token-by-prefix", _declare_and_read("GITHUB_*", "GITHUB_TOKEN"), "env:GITHUB", OPERATOR,
         "holds CI or cloud credentials"),
    Case("env-cloud-key-by-name", _declare_and_read("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"), "env:AWS",
         OPERATOR, "no inventory may read it"),
    Case("env-declared-wildcard", lambda t: t.replace("[NW_*]", '["*"]'), "secrets:", "secrets.env[0]",
         "a prefix ending in _*"),
    Case("env-declared-bare-prefix", lambda t: t.replace("[NW_*]", '["A*"]'), "secrets:", "secrets.env[0]",
         "a prefix ending in _*"),
    Case("env-not-a-name", lambda t: t.operator("env:NW_X=$(id)"), "NW_X=", OPERATOR, "not an environment variable"),
    Case("env-vault-password", _top('vault_password: !secret "env:HOME"'), "vault_password", "vault_password",
         "HOME is not allowed"),
    # --- file: and vault: resolve inside the inventory folder
    Case("file-absolute", lambda t: t.operator("file:/etc/passwd"), "passwd", OPERATOR, "is an absolute path"),
    Case("file-proc-environ", lambda t: t.operator("file:/proc/self/environ"), "environ", OPERATOR, "absolute"),
    Case("file-dotdot", lambda t: t.operator(f"file:../{t.outside.name}/secret.txt"), "secret.txt", OPERATOR,
         "climbs out with '..'"),
    Case("file-dotdot-in-and-out", lambda t: t.operator("file:sub/../../x"), "sub/..", OPERATOR, "climbs out"),
    Case("file-symlink-out", lambda t: (t.link("pw.txt", t.outside / "secret.txt"), t.operator("file:pw.txt")),
         "pw.txt", OPERATOR, "is a symlink that leads out of the inventory folder"),
    Case("file-symlinked-folder-out", lambda t: (t.link("keys", t.outside), t.operator("file:keys/secret.txt")),
         "keys/", OPERATOR, "symlink that leads out"),
    Case("file-symlink-loop", lambda t: (t.link("loop", t.root / "loop"), t.operator("file:loop")), "file:loop",
         OPERATOR, "cannot be resolved"),
    Case("file-nul", lambda t: t.operator("file:pw\\0.txt"), "pw\\0", OPERATOR, "holds a NUL character"),
    Case("file-fifo-never-blocks", _fifo, "file:pipe", OPERATOR, "is not a regular file"),
    Case("file-folder", lambda t: (t.write("sub/x", "x"), t.operator("file:sub")), "file:sub", OPERATOR,
         "is not a regular file"),
    Case("file-too-big", lambda t: (t.write("big.txt", "x" * 100_000), t.operator("file:big.txt")), "big.txt",
         OPERATOR, "larger than 64 KB"),
    Case("vault-absolute", lambda t: t.operator("vault:/etc/shadow#root"), "shadow", OPERATOR, "absolute path"),
    Case("vault-dotdot", lambda t: t.operator("vault:../../s.vault#k"), "s.vault", OPERATOR, "climbs out"),
    Case("vault-password-outside", _top('vault_password: !secret "file:/etc/hostname"'), "vault_password",
         "vault_password", "absolute path"),
    # --- firmware images, client templates and the credential store too
    Case("image-absolute", lambda t: t.replace("image: fw.dav", "image: /etc/passwd"), "image:", IMAGE_KEY,
         "absolute path"),
    Case("image-dotdot", lambda t: t.replace("image: fw.dav", "image: ../fw.dav"), "image:", IMAGE_KEY, "climbs out"),
    Case("image-symlink-out", _image_link, "image:", IMAGE_KEY, "symlink that leads out"),
    Case("credential-store-outside", _top("credential_store: ../../x.vault"), "credential_store", "credential_store",
         "climbs out"),
    Case("template-absolute", lambda t: t.ssh_client("/etc/passwd"), "template:", TEMPLATE, "absolute path"),
    Case("template-symlinked-folder-out", _template_folder_link, "template:", TEMPLATE, "symlink that leads out"),
    Case("template-include", lambda t: t.ssh_client("f.j2", "{% include '/etc/passwd' %}\n"), "template:", TEMPLATE,
         "{% include %} " + NOT_ALLOWED),
    Case("template-nested-loops", lambda t: t.ssh_client("f.j2", "line 1\n" + NESTED), "template:", TEMPLATE,
         "template limit on template line 2: more than 100,000 loop iterations"),
    Case("template-too-big", lambda t: t.ssh_client("f.j2", "x" * (1024 * 1024 + 1)), "template:", TEMPLATE,
         "larger than 1,024 KB"),
    # --- jinja2 in inventory strings: bounded, and reading no other file
    Case("jinja-nested-loops", lambda t: t.address(NESTED), "for a", ADDRESS, "more than 100,000 loop iterations"),
    Case("jinja-huge-range", lambda t: t.address("{{ range(10 ** 9) | length }}"), "range(", ADDRESS,
         "range() of 1,000,000,000 items"),
    Case("jinja-string-bomb", lambda t: t.address("{{ 'x' * 10 ** 10 }}"), "10 ** 10", ADDRESS,
         "would build more than"),
    Case("jinja-huge-power", lambda t: t.address("{{ 7 ** 1000000 }}"), "7 **", ADDRESS, "too large for a template"),
    Case("jinja-doubling-concat", lambda t: t.address("{% set s = 'xx' %}" + "{% set s = s ~ s %}" * 40 + "{{ s }}"),
         "set s", ADDRESS, "would build more than"),
    Case("jinja-padded-format", lambda t: t.address("{{ '%999999999d' % 1 }}"), "9999", ADDRESS,
         "would build more than"),
    Case("jinja-join-bomb", lambda t: t.address("{{ range(10000) | join('x' * 10000) }}"), "join", ADDRESS,
         "would build more than"),
    Case("jinja-include", lambda t: t.address("{% include '/etc/passwd' %}"), "include", ADDRESS,
         "{% include %} " + NOT_ALLOWED),
    Case("jinja-import", lambda t: t.address("{% import 'x.j2' as x %}"), "import", ADDRESS,
         "{% import %} " + NOT_ALLOWED),
    Case("jinja-extends", lambda t: t.address("{% extends 'base.j2' %}"), "extends", ADDRESS,
         "{% extends %} " + NOT_ALLOWED),
    Case("jinja-recursive-macro", lambda t: t.address("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), "macro",
         ADDRESS, "recurses too deeply"),
    Case("jinja-exponential-macro", lambda t: t.address(EXPONENTIAL), "macro", ADDRESS, "loop iterations and calls"),
    Case("jinja-inherited-by-400-devices", _inherited_loops, "vault:{%", OPERATOR + ".secret",
         "the inventory's templates together ran more than 1,000,000"),
    Case("jinja-sandbox-escape", lambda t: t.address("{{ ''.__class__.__mro__ }}"), "__class__", ADDRESS, "unsafe"),
    Case("jinja-division-by-zero", lambda t: t.address("{{ 1 / 0 }}"), "1 / 0", ADDRESS, "division by zero"),
    Case("jinja-translate-bomb", lambda t: t.address("{{ ('a' * 1000).translate({97: 'b' * 100000}) }}"),
         "translate", ADDRESS, "'translate' of 'str' object is unsafe"),
    # --- YAML: aliases, nesting, characters, size, keys, tags
    Case("yaml-alias-bomb", _alias_bomb, "l5:", "vars.l5[1]", TOO_MANY),
    Case("yaml-merge-bomb", _merge_bomb, "m5:", "vars.m5", TOO_MANY),
    Case("yaml-long-string-alias", _string_bomb, "l2:", "vars.l2[6]", TOO_MANY),
    Case("yaml-recursive-alias", lambda t: t.vars("  a: &a [1, *a]\n"), "a: &a", "vars.a[1]", "recursive alias"),
    Case("yaml-recursive-merge", lambda t: t.vars("  a: &a {x: 1, <<: *a}\n"), "a: &a", "vars.a",
         "merges a mapping into itself"),
    Case("yaml-deep-nesting", lambda t: t.vars("  x: " + "[" * 5000 + "]" * 5000 + "\n"), "x: [[",
         "vars.x[0][0][0][0][0][0][0][0].…", "nested more than 64 levels"),
    Case("yaml-nul-byte", lambda t: t.replace("what: iVMS-4200", "what: iVMS\x00-4200"), "iVMS",
         "sites.hq.clients.desk.what", "control character U+0000"),
    Case("yaml-terminal-escape", lambda t: t.replace("what: iVMS-4200", "what: \x1b]0;pwned\x07iVMS-4200"), "iVMS",
         "sites.hq.clients.desk.what", "control character U+001B"),
    Case("yaml-not-utf8", _not_utf8, "CAF", "sites.hq.vars.x", "not UTF-8"),
    Case("yaml-file-too-big", _too_big, _line_past_limit, "vars", "larger than 1,024 KB"),
    Case("yaml-boolean-key", lambda t: t.vars("  yes: 1\n"), "yes:", "vars.yes", "reads as a boolean"),
    Case("yaml-number-site", lambda t: t.replace("  hq:\n", "  1234:\n"), "1234", "sites.1234", "reads as a number"),
    Case("yaml-huge-integer", lambda t: t.replace("max_attempts: 5", "max_attempts: 5" + "0" * 5000), "max_attempts",
         "defaults.lock_policy.max_attempts", "a number of 5,001 digits is too long"),
    Case("yaml-python-tag", lambda t: t.vars('  x: !!python/object/apply:os.system ["id"]\n'), "python", "vars.x",
         "unknown tag !!python/object/apply:os.system"),
    Case("yaml-two-documents", lambda t: t.replace("sites:\n", "---\nsites:\n"), "---", "firmware.DS-7608NXI-I2",
         "YAML syntax error"),
    Case("yaml-list-as-key", lambda t: t.vars("  ? [a, b]\n  : 1\n"), "? [a", "vars", "a key must be a plain name"),
    Case("yaml-error-after-list-key", lambda t: t.vars("  ? [a, b]\n  : 1\n  x: [1, }\n"), "x: [1", "vars.x[0]",
         "YAML syntax error"),
    Case("yaml-undefined-alias", lambda t: t.vars("  x: *nowhere\n"), "nowhere", "vars.x", "undefined alias"),
    # --- the playbook, and names that are rich markup
    Case("playbook-alias-bomb", _playbook_bomb, "s5:", "[0].s5[5]", TOO_MANY, "site.yml"),
    Case("playbook-nul-inventory", lambda t: t.write("site.yml", '- name: x\n  inventory: "inv\\0.yml"\n'),
         "inventory:", "[0].inventory", "not a usable path", "site.yml"),
    Case("playbook-long-inventory", lambda t: t.write("site.yml", f"- name: x\n  inventory: {'a' * 5000}.yml\n"),
         "inventory:", "[0].inventory", "not a usable path", "site.yml"),
    Case("playbook-deep", lambda t: t.write("site.yml", "- name: x\n  inventory: " + "{a: " * 200 + "}" * 200),
         "inventory:", "[0].inventory.a.a.a.a.a.a.a.a.…", "nested more than 64 levels", "site.yml"),
    Case("many-problems", lambda t: t.vars("".join(f'  "-a{i}": 1\n' for i in range(20_000))), "vars:", "vars",
         "… and 19,500 more"),
    Case("markup-in-path", _markup_path, "enforcce", "[0].enforcce", "unknown key", "a[/]b.yml"),
    Case("markup-in-key", lambda t: t.vars('  "[/]x": 1\n  "[bold red]y": 2\n'), "vars:", "vars",
         "'[/]x' does not match"),
]
# fmt: on


def _run(tmp_path: Path, case: Case) -> tuple[dict[str, float], str]:
    root = tmp_path / "repo"
    root.mkdir()
    tree = Tree(root)
    case.make(tree)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENFORCE_")} | SECRETS
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            str(report),
            "validate",
            "site.yml" if case.file == "inventory.yml" else case.file,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = done.stdout + done.stderr
    assert report.exists(), f"validate did not finish:\n{output[-3000:]}"
    return json.loads(report.read_text()), output


def _line(root: Path, case: Case) -> int:
    content = (root / case.file).read_bytes()
    if isinstance(case.line, int):
        return case.line
    if callable(case.line):
        return case.line(content)
    text = content.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if case.line in line:
            return number
    raise AssertionError(f"{case.line!r} not in {case.file}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_cleanly(tmp_path: Path, case: Case) -> None:
    result, output = _run(tmp_path, case)
    assert "Traceback" not in output, output
    assert result["code"] == 1, output
    expected = f"{case.file}:{_line(tmp_path / 'repo', case)}: {case.key}: "
    assert expected in output, f"expected {expected!r} in:\n{output}"
    assert case.says in output, output
    assert "OUTSIDE-SECRET" not in output
    assert all(value not in output for value in SECRETS.values())
    assert result["seconds"] < MAX_SECONDS, result
    assert result["megabytes"] < MAX_MEGABYTES, result


def test_the_table_is_large_and_distinct() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


# --- properties ---------------------------------------------------------------------------------

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SEGMENTS = ["a", "b", "f", "top", "out", "out2", "in", "loop", "..", ".", "", "secret.txt", "x"]


@pytest.fixture(scope="module")
def maze(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder of files, subfolders and symlinks (in, out, a loop), and a secret beside it."""
    root = tmp_path_factory.mktemp("maze")
    base, outside = root / "repo", root / "outside"
    (base / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("OUTSIDE-SECRET-7f3a")
    (base / "top").write_text("inside-top")
    (base / "a" / "f").write_text("inside-f")
    (base / "out").symlink_to(outside)
    (base / "a" / "out2").symlink_to(outside / "secret.txt")
    (base / "in").symlink_to(base / "a")
    (base / "loop").symlink_to(base / "loop")
    return base, outside


paths = st.tuples(
    st.sampled_from(["", "/", "//", "OUTSIDE/"]), st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6)
)


@FAST
@given(path=paths)
def test_no_path_that_leaves_the_folder_is_accepted(maze: tuple[Path, Path], path: tuple[str, list[str]]) -> None:
    base, outside = maze
    prefix, segments = path
    name = (str(outside) + "/" if prefix == "OUTSIDE/" else prefix) + "/".join(segments)
    real = Path(os.path.realpath(base / name))
    try:
        resolved = _confine.inside(base, name, "file")
    except _confine.PathError:
        return
    assert resolved == real
    assert resolved.is_relative_to(base.resolve())
    assert not name.startswith("/") and ".." not in name.split("/")


@FAST
@given(path=paths)
def test_a_secret_file_is_only_ever_read_from_inside(maze: tuple[Path, Path], path: tuple[str, list[str]]) -> None:
    base, outside = maze
    prefix, segments = path
    name = (str(outside) + "/" if prefix == "OUTSIDE/" else prefix) + "/".join(segments)
    resolver = SecretResolver(base)
    try:
        value = resolver.resolve({"secret": f"file:{name}"}).reveal()
    except SecretError as exc:
        assert "OUTSIDE-SECRET" not in str(exc)
        return
    assert value in ("inside-top", "inside-f")


@FAST
@given(path=st.lists(st.sampled_from(["a", "b", "f", "in", "top", "new"]), min_size=1, max_size=5))
def test_every_plain_relative_path_inside_is_accepted(maze: tuple[Path, Path], path: list[str]) -> None:
    base, _ = maze
    assert _confine.inside(base, "/".join(path), "file").is_relative_to(base.resolve())


names = st.from_regex(r"(ENFORCE_|NW_|GITHUB_|AWS_|CI_|SSH_|HOME|PATH|X)[A-Z0-9_]{0,8}", fullmatch=True)
patterns = st.lists(st.one_of(names, names.map(lambda n: n.rstrip("_") + "_*")), max_size=4)


@settings(max_examples=300, deadline=None)
@given(name=names, declared=patterns)
def test_env_reads_only_what_is_declared_and_never_ci_credentials(name: str, declared: list[str]) -> None:
    refused = _env.refusal(name, declared)
    reserved = any(fnmatchcase(name, p) for p in limits.ENV_NEVER_ALLOWED)
    allowed = any(fnmatchcase(name, p) for p in (*limits.ENV_ALWAYS_ALLOWED, *declared))
    assert (refused is None) == (allowed and not reserved)


@FAST
@given(sizes=st.lists(st.integers(0, 10**7), min_size=1, max_size=4))
def test_any_nest_of_loops_renders_or_is_refused_quickly(sizes: list[int]) -> None:
    source = (
        "".join(f"{{% for i{n} in range({size}) %}}" for n, size in enumerate(sizes))
        + "."
        + ("{% endfor %}" * len(sizes))
    )
    start = time.process_time()
    try:
        render_file(source, {})
    except TemplateError as exc:
        assert "template limit" in str(exc)
    assert time.process_time() - start < MAX_SECONDS


@settings(max_examples=20, deadline=None)
@given(levels=st.integers(1, 12), fanout=st.integers(1, 12), merge=st.booleans())
def test_any_alias_tree_loads_or_is_refused_quickly(levels: int, fanout: int, merge: bool) -> None:
    if merge:
        lines = ["l0: &l0 {a: 1, b: 2}"]
        lines += [f"l{i}: &l{i} {{<<: [{', '.join([f'*l{i - 1}'] * fanout)}]}}" for i in range(1, levels + 1)]
    else:
        lines = ["l0: &l0 [x, y]"] + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]" for i in range(1, levels)]
    diagnostics = Diagnostics()
    start = time.process_time()
    doc = _yaml.loads("\n".join(lines) + "\n", Path("bomb.yml"), diagnostics)
    assert time.process_time() - start < MAX_SECONDS
    if doc is None:
        [error] = diagnostics.errors
        assert TOO_MANY in error.summary and error.location.line > 1
    else:
        assert not diagnostics.errors and len(doc.lines) <= limits.MAX_YAML_VALUES
