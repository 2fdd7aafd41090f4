"""The rules of the report (rules/report.smk), one function each, under the rule's name.

``render_report_pages`` is the library's :func:`gpunas.report.pages.render` itself (no pass-through).
"""

from __future__ import annotations

from gpunas.report.pages import render as render_report_pages

__all__ = ["render_report_pages"]
