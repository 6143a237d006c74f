"""The PDF of the model report: the same report laid out in a real PDF of several pages,
charts replaced by a pointer to the HTML, and nothing fetched whatever the HTML names."""

from __future__ import annotations

import re
import zlib

from finml.access import LOCAL, ScopedStore
from finml.reporting.pdf import printable, report_pdf
from finml.reporting.report import build_report
from finml.store import RunStore
from tests.conftest import train_and_log


def _page_streams(pdf: bytes) -> bytes:
    """The PDF's decompressed content streams (its drawing operators)."""
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            out.append(match.group(1))
    return b"\n".join(out)


def test_the_pdf_is_the_reports_tables_with_charts_pointing_to_the_html(german_spec, tmp_path):
    run_id = train_and_log(german_spec("hgb", max_iter=30), "hgb · pdf")
    html = build_report(ScopedStore(RunStore(), LOCAL), run_id, threshold=0.5)
    assert "plotly-graph-div" in html and "<script" in html
    page = printable(html)
    assert "<script" not in page and "plotly-graph-div" not in page
    assert page.count("[Chart: see the HTML report.]") == html.count('class="plotly-graph-div"')
    assert "<h2>Test metrics at threshold 0.500</h2>" in page and "@page" in page
    pdf = report_pdf(html)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf + _page_streams(pdf)))
    assert pages >= 3, pages  # settings, split audit, metrics and tables: several pages
    assert len(_page_streams(pdf)) > 10_000  # text and tables were laid out


def test_the_pdf_fetches_nothing_the_html_names(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE")
    html = (
        "<!doctype html><html><head><title>x</title>"
        f'<link rel="stylesheet" href="file://{secret}"></head><body>'
        f'<img src="file://{secret}"><img src="http://127.0.0.1:9/x.png">'
        f'<object data="file://{secret}"></object><p>report body</p></body></html>'
    )
    pdf = report_pdf(html)
    assert pdf.startswith(b"%PDF-")
    assert b"TOP-SECRET-LINE" not in pdf and b"TOP-SECRET-LINE" not in _page_streams(pdf)


def test_making_a_pdf_leaves_the_servers_image_checks_as_they_were():
    """WeasyPrint sets Pillow's global LOAD_TRUNCATED_IMAGES on import; it runs in a child
    process, so a truncated scan uploaded after a PDF report is still skipped."""
    import sys

    import pytest
    from PIL import ImageFile

    from finml.data.images import ImageSkip, decode_image
    from tests.hostile_images import truncated_jpeg

    pdf = report_pdf("<!doctype html><html><head></head><body><p>x</p></body></html>")
    assert pdf.startswith(b"%PDF-")
    assert "weasyprint" not in sys.modules and not ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(ImageSkip, match="truncated"):
        decode_image(truncated_jpeg(), "cut.jpg", 64, "RGB")
