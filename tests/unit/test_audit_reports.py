"""The audit's reports on a report built in memory: the JSON validates against its schema, a real JUnit parser
reads the JUnit file, the Markdown stays short, and a hostile name is text everywhere, never markup."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from enforcer.audit import CHECKS, KINDS, SEVERITIES, AuditReport, PlayAudit, Unread
from enforcer.audit.findings import ROLE_CHECKS
from enforcer.facts import LockPolicyFact, LoginEvent, LoginFact, SecurityLog
from enforcer.model import Site
from enforcer.report.audit import audit_document, audit_html, audit_junit, audit_markdown
from tests.unit.test_audit import DESK, NOW, OLD, OWN, SINCE, World, world

HOSTILE = '<script>alert("x")<img src=x onerror=alert(1)>**bold**|`tick`'  # a site name: no "/"


def schema() -> dict[str, Any]:
    text = resources.files("enforcer").joinpath("schemas", "report.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def rich_world(name: str = "s") -> World:
    """A site with something of every sort: flags, drift, a stale desk, a locked and an unread device."""
    w = world()
    if name != "s":
        w.site = _renamed(w.site, name)
        w.facts = {
            k.replace("s/", f"{name}/", 1): replace(v, device=v.device.replace("s/", f"{name}/", 1))
            for k, v in w.facts.items()
        }
        w.known = {(k[0].replace("s/", f"{name}/", 1), k[1]): v for k, v in w.known.items()}
        w.logs = {}
    nvr, cam = w.dev("nvr"), w.dev("cam")
    w.set("cam", login=LoginFact("admin", "previous", True, True, 1), lock_policy=LockPolicyFact(False, 5, 1800))
    w.known[(nvr.id, "admin")] = OLD
    desk = [LoginEvent(NOW - 3600 * i, DESK, "admin", "failure") for i in range(12)]
    others = [
        LoginEvent(NOW - 7200, "10.0.0.77", "installer", "failure"),
        LoginEvent(NOW - 60, OWN, "admin", "failure"),
    ]
    w.logs[nvr.id] = SecurityLog(SINCE, (*desk, *others))
    w.logs[cam.id] = SecurityLog(SINCE, (LoginEvent(NOW - 90, "10.0.0.10", "admin", "lock"),), "locks")
    return w


def _renamed(site: Site, name: str) -> Site:
    return replace(
        site,
        name=name,
        devices=tuple(replace(d, site=name) for d in site.devices),
        clients=tuple(replace(c, site=name) for c in site.clients),
    )


def report(*worlds: World) -> AuditReport:
    sites = tuple(w.audit() for w in worlds)
    return AuditReport("playbooks/audit.yml", NOW, SINCE, (PlayAudit("Audit", sites),))


def test_json_validates_against_its_schema_and_the_schema_lists_every_kind() -> None:
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$defs"]["kind"]["enum"] == list(KINDS)
    assert s["$defs"]["check"]["enum"] == list(CHECKS)
    assert s["$defs"]["severity"]["enum"] == list(SEVERITIES)
    unread = world()
    unread.unread[unread.dev("cam").id] = Unread("connect", "connection refused")
    del unread.facts[unread.dev("cam").id], unread.logs[unread.dev("cam").id]
    for doc in (
        audit_document(report()),
        audit_document(report(world())),
        audit_document(report(rich_world(), unread)),
    ):
        jsonschema.validate(doc, s, cls=jsonschema.Draft202012Validator)
    doc = audit_document(report(rich_world()))
    assert doc["compliant"] is False and doc["summary"]["severity"]["critical"] == 1
    culprits = {a["source"]: a["culprit"]["kind"] for a in doc["plays"][0]["sites"][0]["forensics"]}
    assert culprits == {DESK: "client", "10.0.0.77": "unknown", OWN: "enforcer", "10.0.0.10": "recorder"}


def test_json_refuses_what_the_schema_does_not_allow() -> None:
    doc = audit_document(report(rich_world()))
    doc["plays"][0]["sites"][0]["findings"][0]["kind"] = "made_up"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema(), cls=jsonschema.Draft202012Validator)


def test_junit_is_read_by_a_junit_parser_one_case_per_device_and_check(tmp_path: Any) -> None:
    locked = world()
    locked.site = _renamed(locked.site, "other")
    locked.facts = {}
    locked.logs = {}
    for d in locked.site.devices:
        locked.unread[d.id] = (
            Unread("login", "locked for 60 s", 60) if d.role == "camera" else Unread("connect", "refused")
        )
    r = report(rich_world(), locked)
    path = tmp_path / "audit.xml"
    path.write_bytes(audit_junit(r))
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert [s.name for s in suites] == ["Audit · s", "Audit · other"]
    expected = sum(len(ROLE_CHECKS[d.role]) for d in r.devices)
    cases = [(suite.name, case) for suite in suites for case in suite]
    assert len(cases) == expected == xml.tests
    outcomes: dict[tuple[str, str], str] = {}
    for _, case in cases:
        kinds = {type(x).__name__ for x in case.result}
        outcomes[(case.classname, case.name)] = next(iter(kinds)) if kinds else "passed"
        for result in case.result:
            if isinstance(result, Failure | Error):
                assert result.message and result.type in KINDS
    assert outcomes[("s.cam", "passwords")] == "Failure"  # default password, store outdated
    assert outcomes[("s.cam", "lock_policy")] == "Failure"
    assert outcomes[("s.nvr", "security_log")] == "Failure"  # the desk, someone unknown
    assert outcomes[("s.cam", "security_log")] == "Failure"  # its recorder locks it
    assert outcomes[("s.cam", "firmware")] == "passed"
    assert outcomes[("other.nvr", "reachable")] == "Error"
    assert outcomes[("other.cam", "reachable")] == "Failure"  # locked: a finding, not an error
    assert outcomes[("other.cam", "passwords")] == "Skipped"
    assert not any(isinstance(x, Skipped) for _, c in cases if c.classname.startswith("s.") for x in c.result)
    assert xml.errors == 1 and xml.skipped == sum(len(ROLE_CHECKS[d.role]) - 1 for d in locked.site.devices)


def test_markdown_is_short_and_escapes_names() -> None:
    worlds = []
    for i in range(60):
        w = rich_world(f"site-{i:03}" if i else HOSTILE)
        worlds.append(w)
    md = audit_markdown(report(*worlds), command="enforce audit playbooks/audit.yml")
    assert len(md) < 4000 and len(md.splitlines()) < 45
    assert "<script" not in md and "<img" not in md and "‹script›" in md
    assert md.startswith("### enforcer audit: ❌ not compliant")
    assert audit_markdown(report(world())).startswith("### enforcer audit: ✅ compliant")


def test_html_is_one_file_with_no_script_and_hostile_names_escaped() -> None:
    page = audit_html(report(rich_world(HOSTILE), world()), command=f"enforce audit {HOSTILE}")
    elements = Elements()
    elements.feed(page)
    assert "script" not in elements.tags and "img" not in elements.tags
    assert not [a for a in elements.attributes if a.startswith("on")]
    assert sum(HOSTILE in t for t in elements.texts) >= 3  # the site's heading, its rows, the footer
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "http://" not in page.replace("http-equiv", "") and "https://" not in page  # nothing to fetch
    assert page.count("<table") >= 2 * 2 + 1  # devices and findings per site, the kinds
    assert "<svg" in page


class Elements(HTMLParser):
    """Every tag, attribute name and text node of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def test_reports_hold_no_secret() -> None:
    r = report(rich_world())
    texts = [json.dumps(audit_document(r)), audit_html(r), audit_junit(r).decode(), audit_markdown(r)]
    for text in texts:
        assert OLD.reveal() not in text
