"""Rendering: Markdown, CSV, terminal, and the static HTML page checked in a real headless browser."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.store import ResultStore
from leaderboards.board import build_board
from leaderboards.render import to_csv, to_html, to_markdown, to_rich

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def test_to_markdown_has_all_views_and_run_ids(smoke_store: ResultStore) -> None:
    board = build_board(smoke_store, "smoke", resamples=50)
    text = to_markdown(board)
    for heading in ("## Overall", "## Per language", "## Per entity type"):
        assert heading in text
    assert "| 1 | gazetteer | run |" in text and board.rows[0].run_ids[0] in text


@pytest.mark.parametrize("view", ["overall", "language", "type"])
def test_to_csv_parses_and_keeps_fractions(smoke_store: ResultStore, view: str) -> None:
    frame = pd.read_csv(io.StringIO(to_csv(build_board(smoke_store, "smoke", resamples=50), view)))
    assert not frame.empty and "run_ids" in frame.columns
    column = {"overall": "clean_f1", "language": "clean_f1", "type": "clean_f1"}[view]
    assert frame[column].between(0, 1).all()


def test_to_rich_renders_caption(smoke_store: ResultStore) -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=250)
    console.print(to_rich(build_board(smoke_store, "smoke", resamples=50)))
    assert "worst-case F1" in console.file.getvalue()


def test_to_html_is_self_contained(smoke_store: ResultStore) -> None:
    page = to_html(build_board(smoke_store, "smoke", resamples=50))
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page


def _browser():  # type: ignore[no-untyped-def]
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"no headless browser: needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    import tempfile

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="xner-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    return webdriver.Chrome(options=options, service=service), profile


def test_html_page_loads_without_console_errors_and_sorts_on_click(smoke_store: ResultStore, tmp_path: Path) -> None:
    from tests.leaderboards.conftest import TOY_PKG
    from harness.manifest import load_suite
    from leaderboards.submissions import SubmissionMeta, submit_system
    from tests.leaderboards.conftest import ATTACKS

    submit_system(smoke_store, load_suite("smoke"), "toy_xner_system:ToyTagger", SubmissionMeta("toy", "1"),
                  attacks=ATTACKS, pythonpath=[str(TOY_PKG)])
    page = tmp_path / "board.html"
    page.write_text(to_html(build_board(smoke_store, "smoke", rank_by="clean", resamples=50)), encoding="utf-8")
    driver, profile = _browser()
    try:
        driver.get(page.as_uri())
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        from selenium.webdriver.common.by import By

        def systems() -> list[str]:
            return [r.find_elements(By.TAG_NAME, "td")[1].text for r in driver.find_elements(By.CSS_SELECTOR, "#overall tbody tr")]

        assert systems() == ["gazetteer", "toy@1"]
        header = driver.find_elements(By.CSS_SELECTOR, "#overall thead th")[3]  # clean F1
        header.click()
        assert header.get_attribute("aria-sort") == "descending" and systems() == ["gazetteer", "toy@1"]
        header.click()
        assert header.get_attribute("aria-sort") == "ascending" and systems() == ["toy@1", "gazetteer"]
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
