"""The quick study's two HTML outputs in a real browser (headless Chromium through Playwright).

Checks what a reader sees: the notebook shows one decoded PNG under each registered figure's
heading, the report lists every registered figure and shows each one when it is opened, and
neither page logs a console error, throws, or makes a request that fails or leaves the machine.
The report stays light: at most ``REPORT_MAX_BYTES``, the large per-run, per-neuron
and raster tables left on disk and named, with their folder, by the embedded tables index.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from spikesparse.study import paths
from spikesparse.study.report import figure_registry
from tests.conftest import QUICK_CONFIG, REPO
from tests.workflow.quick_study import quick_study

pytestmark = [pytest.mark.browser, pytest.mark.workflow]

# Flags that let Chromium start as root on a machine without a network or a GPU: without the
# background-networking ones it tries Google's hosts at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Snakemake 9's report inlines the Tailwind "Play CDN" runtime as its stylesheet (snakemake/assets/
# data/tailwindcss/tailwind.css), which always logs this warning at load. The runtime is inline
# (no request is made; the test checks that) and Snakemake has no option to swap it for static
# CSS (--report-stylesheet only adds CSS), so this one exact third-party warning is allowed.
KNOWN_WARNINGS = {
    "cdn.tailwindcss.com should not be used in production. To use Tailwind CSS in production, "
    "install it as a PostCSS plugin or use the Tailwind CLI: https://tailwindcss.com/docs/installation"
}
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# The bound for the default study's report (55 MB when it embedded every table); the
# quick study's report is below it too.
REPORT_MAX_BYTES = 10_000_000
# What the report embeds besides the figures and the notebook; every other table stays on disk.
EMBEDDED_TABLES = (
    paths.SUMMARY_TABLE,
    paths.CLAIMS_CSV,
    paths.CLAIMS_MD,
    paths.REPLICATION_CSV,
    paths.REPLICATION_MD,
    paths.TABLES_INDEX,
)


def _chromium() -> str | None:
    return (
        os.environ.get("SPIKESPARSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def _unavailable(reason: str) -> None:
    """Skip, unless CI installed the browser (SPIKESPARSE_REQUIRE_BROWSER): then it is a failure."""
    if os.environ.get("SPIKESPARSE_REQUIRE_BROWSER"):
        pytest.fail(f"{reason}, but SPIKESPARSE_REQUIRE_BROWSER is set (CI installed the browser)")
    pytest.skip(f"{reason}; .ci/run installs both (apt-get install chromium; pip install playwright==1.65.2)")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed")
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium executable (set SPIKESPARSE_CHROMIUM or install Debian's chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    return quick_study(tmp_path_factory)


class Visit:
    """One page load with everything the page logged, threw and requested."""

    def __init__(self, browser, path: Path):
        self.console: list[tuple[str, str]] = []
        self.page_errors: list[str] = []
        self.failed: list[tuple[str, str | None]] = []
        self.requests: list[str] = []
        self.page = browser.new_page()
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append((r.url, r.failure)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        response = self.page.goto(path.resolve().as_uri(), wait_until="load")
        assert response is None or response.ok, path
        self.page.wait_for_load_state("networkidle")

    def assert_clean(self) -> None:
        errors = [text for kind, text in self.console if kind == "error"]
        warnings = [text for kind, text in self.console if kind == "warning" and text not in KNOWN_WARNINGS]
        assert errors == [], errors
        assert warnings == [], warnings
        assert self.page_errors == [], self.page_errors
        assert self.failed == [], self.failed
        remote = [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]
        assert remote == [], f"the page fetched from the network: {remote}"

    def image_widths(self) -> list[int]:
        """naturalWidth of every <img> once decoded (0 where decoding failed)."""
        return self.page.evaluate(
            """() => Promise.all([...document.images].map(
                img => img.decode().then(() => img.naturalWidth, () => 0)))"""
        )


def test_notebook_html_shows_every_figure_under_its_heading(browser, study):
    visit = Visit(browser, study / paths.NOTEBOOK_HTML)
    names = list(figure_registry.FIGURE_TITLES)
    widths = visit.image_widths()
    assert len(widths) == len(names), "one image per figure"
    assert all(w > 0 for w in widths), widths
    # In document order: each figure's name (the code line under its heading), then its image.
    sequence = visit.page.evaluate(
        """names => [...document.querySelectorAll('code, img')]
            .filter(el => el.tagName === 'IMG' || names.includes(el.textContent.trim()))
            .map(el => el.tagName === 'IMG' ? 'img' : el.textContent.trim())""",
        names,
    )
    assert sequence == [item for name in names for item in (name, "img")]
    headings = visit.page.eval_on_selector_all("h3", "els => els.map(e => e.textContent)")
    for title in figure_registry.FIGURE_TITLES.values():
        assert any(title in h for h in headings), title
    text = visit.page.inner_text("body")
    assert "Traceback" not in text  # an error output shows its traceback
    visit.assert_clean()


def test_report_lists_every_figure_and_describes_the_config(browser, study):
    visit = Visit(browser, study / paths.REPORT)
    visit.page.wait_for_selector("#loading-screen", state="hidden")
    # The landing page shows the workflow description generated from this config.
    text = visit.page.inner_text("body")
    config = yaml.safe_load((study / QUICK_CONFIG.relative_to(REPO)).read_text())  # the study's own
    for name in [*config["experiments"], *config.get("conversions", {})]:
        assert name in text, name
    assert "one recurrent LIF SNN per" not in text
    assert all(w > 0 for w in visit.image_widths())
    results = visit.page.evaluate("() => results")
    for name, title in figure_registry.FIGURE_TITLES.items():
        entry = results.get(figure_registry.figure_path(name))
        assert entry is not None, f"{name} missing from the report"
        assert title in entry["labels"].values(), entry["labels"]
    assert paths.NOTEBOOK_HTML in results
    # What a reader sees: each category's menu lists the titles of its figures.
    for category in dict.fromkeys(name.split("_")[0].upper() for name in figure_registry.FIGURE_TITLES):
        visit.page.reload(wait_until="load")  # a fresh app: it keeps the first category's list
        visit.page.wait_for_selector("#loading-screen", state="hidden")
        visit.page.evaluate("category => app.showCategory(category)", category)
        for name, title in figure_registry.FIGURE_TITLES.items():
            if name.split("_")[0].upper() == category:  # waits for React to render the list
                visit.page.locator("nav").get_by_text(title, exact=True).wait_for(timeout=10_000)
    # Every figure's embedded image decodes in the browser.
    widths = visit.page.evaluate(
        """uris => Promise.all(uris.map(uri => new Promise(resolve => {
            const img = new Image();
            img.onload = () => resolve(img.naturalWidth);
            img.onerror = () => resolve(0);
            img.src = uri;
        })))""",
        [results[figure_registry.figure_path(name)]["data_uri"] for name in figure_registry.FIGURE_TITLES],
    )
    assert all(w > 0 for w in widths), dict(zip(figure_registry.FIGURE_TITLES, widths, strict=True))
    visit.assert_clean()


def test_report_shows_every_figure_and_stays_light(browser, study):
    report = study / paths.REPORT
    assert report.stat().st_size <= REPORT_MAX_BYTES, f"{report.stat().st_size} bytes"
    visit = Visit(browser, report)
    visit.page.wait_for_selector("#loading-screen", state="hidden")
    results = visit.page.evaluate("() => results")
    figures = {figure_registry.figure_path(name) for name in figure_registry.FIGURE_TITLES}
    embedded = set(results) - figures - {paths.NOTEBOOK_HTML}
    assert embedded == set(EMBEDDED_TABLES), sorted(embedded)
    for name in ("neurons", "rasters", "runs", "history"):
        assert paths.AGGREGATE_TABLES[name] not in results, name
    # The index names every table left on disk, and the folder they are in.
    index = results[paths.TABLES_INDEX]
    assert str((study / paths.TABLES).resolve()) in index["caption"]
    for name in ("neurons", "rasters"):
        assert f'href="{Path(paths.AGGREGATE_TABLES[name]).relative_to(paths.RESULTS)}"' in index["caption"]
    text = visit.page.inner_text("body")
    assert "results/tables/" in text and "index.csv" in text  # the landing page says where they are
    # Every figure, opened as a reader opens it (what its entry's eye button and the results list
    # do: the content view of its data), is shown: an <img> of its own data, decoded, laid out.
    for name in figure_registry.FIGURE_TITLES:
        path = figure_registry.figure_path(name)
        shown = visit.page.evaluate(
            """async path => {
                const uri = results[path].data_uri;
                app.setView({content: "img", contentPath: uri, resultPath: path});
                for (let i = 0; i < 100; i++) {
                    const img = [...document.images].find(el => el.src === uri);
                    if (img) {
                        await img.decode().catch(() => null);
                        return [img.naturalWidth, img.getBoundingClientRect().width];
                    }
                    await new Promise(resolve => setTimeout(resolve, 50));
                }
                return [0, 0];
            }""",
            path,
        )
        assert shown[0] > 0 and shown[1] > 0, (name, shown)
    visit.assert_clean()
