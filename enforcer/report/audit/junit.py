"""The audit as JUnit XML, for CI dashboards: a test suite per site, a test case per device and check.

A check fails when a finding of it counts against the device (anything but ``info``); ``info`` findings go
to the case's ``system-out``. A device that was not read has its ``reachable`` case in error (or failed,
when it is locked: that is a finding) and its other checks skipped, since nothing can be said of them.
The XML is built with ElementTree, which escapes every name and message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from enforcer.audit import AuditReport, DeviceAudit, SiteAudit
from enforcer.audit.findings import ROLE_CHECKS, Finding
from enforcer.report.audit.document import stamp


def audit_junit(report: AuditReport) -> bytes:
    """The JUnit XML document (UTF-8, with its declaration)."""
    root = ET.Element("testsuites", name="enforcer audit")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for play in report.plays:
        for site in play.sites:
            suite = _suite(site, f"{play.name} · {site.site}", stamp(report.generated))
            root.append(suite)
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _suite(site: SiteAudit, name: str, when: str) -> ET.Element:
    suite = ET.Element("testsuite", name=name, timestamp=when)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for device in site.devices:
        for check in ROLE_CHECKS.get(device.role, ()):
            case = ET.SubElement(suite, "testcase", classname=f"{site.site}.{device.name}", name=check, time="0")
            counts["tests"] += 1
            found = [f for f in site.of(device.name) if f.check == check]
            outcome = _outcome(device, check, found, case)
            if outcome:
                counts[outcome] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    return suite


def _outcome(device: DeviceAudit, check: str, found: list[Finding], case: ET.Element) -> str:
    """Fill ``case``; returns which count it adds to (``failures``, ``errors``, ``skipped``) or ""."""
    if device.status in ("unread", "locked") and check != "reachable":
        ET.SubElement(case, "skipped", message=f"{device.name} was not read: {device.reason}")
        return "skipped"
    counted = [f for f in found if f.counts]
    info = [f for f in found if not f.counts]
    if info:
        ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in info)
    if not counted:
        return ""
    worst = counted[0]
    tag = "error" if worst.kind == "unreadable" else "failure"
    element = ET.SubElement(case, tag, type=worst.kind, message=f"{worst.severity}: {worst.title}: {worst.what}")
    element.text = "\n\n".join(_line(f) for f in counted)
    return "errors" if tag == "error" else "failures"


def _line(f: Finding) -> str:
    return f"[{f.severity}] {f.title}: {f.what}\n  why: {f.why}\n  fix: {f.fix}"
