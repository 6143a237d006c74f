"""The model report as PDF: the same HTML report (:func:`finml.reporting.report.build_report`,
the same template) laid out by WeasyPrint, for a validator's file or an e-mail.

The charts of the HTML report are drawn by plotly.js in the browser; WeasyPrint runs no
scripts, so in the PDF each chart is replaced by a line that points to the HTML report,
and every table and text section is kept. WeasyPrint fetches nothing: the report is
self-contained, and a fetcher that refuses every address keeps it from reading a file or
the network whatever the HTML names.

WeasyPrint runs in a child process (``python -m finml.reporting.pdf``): importing it sets
Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` to True, which in the server would make
every later image upload accept truncated files instead of skipping them.
"""

from __future__ import annotations

import re

from finml.errors import FinmlError

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
_CHART = re.compile(r'<div id="[^"]*" class="plotly-graph-div"[^>]*></div>')
_PLACEHOLDER = '<p class="muted">[Chart: see the HTML report.]</p>'
_PAGE = "<style>@page{size:A4;margin:16mm 14mm}body{max-width:none;margin:0;font-size:10pt}</style>"


class PdfError(FinmlError):
    """The PDF cannot be made here (WeasyPrint or the Pango library it needs is missing)."""


def printable(html: str) -> str:
    """The report's HTML as WeasyPrint lays it out: scripts removed, each chart replaced by
    a line that points to the HTML report, an A4 page style added."""
    out = _CHART.sub(_PLACEHOLDER, html)
    out = _SCRIPT.sub("", out)
    return out.replace("</head>", f"{_PAGE}</head>", 1)


def report_pdf(html: str, timeout_s: float = 300.0) -> bytes:
    """The PDF of a report, laid out in a child process (see the module).

    Args:
        html: the HTML report (:func:`finml.reporting.report.build_report`).
        timeout_s: longest wait for the layout, seconds.

    Returns:
        bytes: a PDF document (starts with ``%PDF-``).

    Raises:
        PdfError: WeasyPrint cannot be loaded (on Debian it needs ``libpango-1.0-0`` and
            ``libpangoft2-1.0-0``), failed or took longer than ``timeout_s``.
    """
    import subprocess
    import sys

    try:
        done = subprocess.run(
            [sys.executable, "-m", "finml.reporting.pdf"],
            input=printable(html).encode(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PdfError(
            f"The PDF report took over {timeout_s:.0f} s; the HTML report has everything."
        ) from None
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF-"):
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise PdfError(
            "The PDF report needs WeasyPrint and the Pango library (on Debian: apt install "
            f"libpango-1.0-0 libpangoft2-1.0-0); the HTML report has everything ({why[0][:200]})."
        )
    return done.stdout


def _layout(page: str) -> bytes:
    """WeasyPrint's PDF of printable HTML, fetching nothing (run in the child process)."""
    import weasyprint
    from weasyprint.urls import URLFetcher

    refuse_all = URLFetcher(allowed_protocols=frozenset())  # no file, no network, no data:
    return weasyprint.HTML(string=page, url_fetcher=refuse_all).write_pdf()


if __name__ == "__main__":
    import sys

    sys.stdout.buffer.write(_layout(sys.stdin.buffer.read().decode()))
