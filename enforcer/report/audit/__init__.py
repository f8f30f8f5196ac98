"""The audit's views: the console, one JSON document (with its schema), a self-contained HTML page, JUnit
XML for CI dashboards and a short Markdown summary for a pull request. Each renders an
:class:`~enforcer.audit.AuditReport` and computes nothing of its own beyond counting, so all agree."""

from enforcer.report.audit.console import print_audit, verdict
from enforcer.report.audit.document import audit_document
from enforcer.report.audit.html import audit_html
from enforcer.report.audit.junit import audit_junit
from enforcer.report.audit.markdown import audit_markdown

__all__ = ["audit_document", "audit_html", "audit_junit", "audit_markdown", "print_audit", "verdict"]
