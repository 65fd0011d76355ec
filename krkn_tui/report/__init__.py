"""Run reports for people: Markdown or a self-contained HTML file, from a run's JSON report."""

from .load import find_report, read_report
from .render import render_html, render_markdown

__all__ = ["find_report", "read_report", "render_html", "render_markdown"]
