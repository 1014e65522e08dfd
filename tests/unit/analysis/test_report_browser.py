"""The HTML report in a real headless browser (Debian's chromium driven by Playwright).

Every image must load and the page must not scroll sideways at a phone's 400 px width.
`make test` installs chromium (Makefile stamp .make/chromium); the test skips, naming why,
only where chromium is absent and could not be installed. Playwright's own browser downloads
are never used: it drives /usr/bin/chromium.

Run as a script to screenshot a report's first screen:
``python tests/unit/analysis/test_report_browser.py REPORT.html OUT.png``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: A phone's CSS width (px).
PHONE_WIDTH = 400


def inspect_page(html: Path, screenshot: Path | None = None, width: int = PHONE_WIDTH) -> dict:
    """Open ``html`` in headless chromium at ``width`` px; measure images and overflow.

    Returns:
        ``images`` (count), ``broken`` (not loaded or zero-size), ``overflow_px`` (page width
        beyond the viewport), ``first_heading``; saves the first screen to ``screenshot``.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 860}, device_scale_factor=2)
            page.goto(Path(html).resolve().as_uri(), wait_until="load")
            result = page.evaluate("""() => ({
                images: document.images.length,
                broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length,
                overflow_px: document.documentElement.scrollWidth - window.innerWidth,
                first_heading: (document.querySelector('h2') || {}).textContent || ''
            })""")
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
            return result
        finally:
            browser.close()


def _needs_chromium():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing and `make test` could not install it (apt-get install -y chromium "
                    "needs root and the Debian mirror)")
    pytest.importorskip("playwright", reason="the playwright package (requirements/dev.txt) is not installed")


def test_report_html_loads_every_image_and_fits_a_phone(tmp_path):
    _needs_chromium()
    from test_render import _data

    from synthclf.analysis.render import render_report

    rendered = render_report(_data(), tmp_path)
    page = tmp_path / "report.html"
    page.write_text(rendered.html)
    for name in list(tmp_path.glob("figures/*.png")):  # self-contained: the page needs no files beside it
        name.unlink()
    shot = tmp_path / "first-screen.png"
    result = inspect_page(page, shot)
    assert result["images"] == len(rendered.figures) >= 7
    assert result["broken"] == 0
    assert result["overflow_px"] <= 0, f"the page is {result['overflow_px']} px wider than a {PHONE_WIDTH} px screen"
    assert result["first_heading"].startswith("The answer")
    assert shot.stat().st_size > 10_000


if __name__ == "__main__":
    if len(sys.argv) != 3 or shutil.which("chromium") is None:
        sys.exit("usage: test_report_browser.py REPORT.html OUT.png (needs /usr/bin/chromium)")
    print(inspect_page(Path(sys.argv[1]), Path(sys.argv[2])))
