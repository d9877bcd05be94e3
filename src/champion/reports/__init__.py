"""Self-contained HTML and JSON reports with inline SVG charts."""

from champion.reports.drift import drift_section, render_drift_html, write_drift_reports

__all__ = ["drift_section", "render_drift_html", "write_drift_reports"]
