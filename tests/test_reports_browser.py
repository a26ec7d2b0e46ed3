"""The published report in a real browser (headless Chromium), and determinism of a run.

Chromium: Debian's package (`apt-get install chromium`; `make test` and `.ci/run` install it where missing), driven
by Playwright's Python client with ``executable_path`` (no browser download).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium); `make test` and .ci/run install it")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _visit(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(path.as_uri(), wait_until="load")
    images = page.evaluate("() => [...document.images].map(i => i.complete && i.naturalWidth > 0)")
    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    return page, problems, images, links


def test_index_and_every_notebook_page_load_cleanly(default_run, browser):
    _, out, _, _ = default_run
    pages = [out / "index.html", out / "glossary.html"] + sorted(out.glob("[0-9]*.html"))
    assert len(pages) >= 11
    counts = {"pages": 0, "tables": 0, "images": 0, "links": 0}
    for path in pages:
        page, problems, images, links = _visit(browser, path)
        assert problems == [], f"{path.name}: {problems}"
        assert all(images), f"{path.name}: {images.count(False)} figure(s) did not load"
        if path.name not in ("index.html", "glossary.html"):
            assert len(images) >= 1, f"{path.name}: no figures"
        for href in links:
            u = urlparse(href)
            if u.scheme == "file":
                assert Path(unquote(u.path)).exists(), f"{path.name}: broken link {href}"
            else:
                assert u.scheme in ("http", "https") and "#" not in href or u.fragment, f"{path.name}: unexpected link {href}"
        checks = page.evaluate(
            """() => ({
                overflow: document.documentElement.scrollWidth - window.innerWidth,
                alts: [...document.images].map(i => i.getAttribute('alt') || ''),
                cells: [...document.querySelectorAll('td, th')].map(c => c.innerText.trim()),
                raw: document.querySelectorAll('table.dataframe').length,
            })"""
        )
        assert checks["overflow"] <= 1, f"{path.name}: the page is {checks['overflow']} px wider than a 1280 px window"
        bad_alt = [a for a in checks["alts"] if len(a) < 20 or "No description" in a]
        assert not bad_alt, f"{path.name}: images without a meaningful alt text: {bad_alt[:3]}"
        sci = [c for c in checks["cells"] if re.search(r"(?<![0-9a-fA-F])\d+(\.\d+)?[eE][+-]\d+", c) or c in ("NaN", "nan", "True", "False", "None")]
        assert not sci, f"{path.name}: table cells in scientific notation or raw values: {sci[:5]}"
        assert checks["raw"] == 0, f"{path.name}: {checks['raw']} raw pandas table(s)"
        counts["pages"] += 1
        counts["tables"] += page.evaluate("() => document.querySelectorAll('table').length")
        counts["images"] += len(images)
        counts["links"] += len(links)
        shots = out / "screenshots"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / f"{path.stem}.png"), full_page=False)
        if path.name == "index.html":
            page.locator("#summary").screenshot(path=str(shots / "summary.png"))
            assert (shots / "index.png").stat().st_size > 10_000 and (shots / "summary.png").stat().st_size > 5_000
        page.close()
    (out / "screenshots" / "browser_checks.json").write_text(json.dumps(counts))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SEEDED = ("02_staggered", "03_synthetic_control", "05_robustness", "06_power")
"""Notebooks that draw random numbers (multiplier bootstrap, placebo and permutation draws, wild bootstrap, simulations)."""


def test_two_runs_give_byte_identical_estimates_and_panel(default_run, tmp_path):
    """A second run of the notebooks that draw random numbers reproduces the first run's rows character for
    character (the other notebooks are deterministic computations on the same panel, which is compared too)."""
    import pandas as pd

    _, first, _, _ = default_run
    only = [a for n in SEEDED for a in ("--only", n)]
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "run", "params/default.yaml", "--reports", str(tmp_path), "--set", "run_name=e2e", "--quiet", *only], cwd=ROOT, capture_output=True, text=True, timeout=600, env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr
    second = tmp_path / "e2e"
    for name in ("panel.csv", "cohorts.csv", "params.yaml"):
        assert _digest(first / name) == _digest(second / name), name
    a = pd.read_csv(first / "estimates.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(second / "estimates.csv", dtype=str, keep_default_na=False)
    a = a[a["notebook"].isin(SEEDED)].reset_index(drop=True)
    assert len(a) > 1000 and set(b["notebook"]) == set(SEEDED)
    pd.testing.assert_frame_equal(a, b)


def test_pdf_of_the_summary_and_findings(default_run, tmp_path):
    """`evidence pdf` prints the run's index (summary, findings, design, robustness; not the appendix) to A4."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium); `make test` and .ci/run install it")
    from evidence.pdf import page_count

    _, out, _, _ = default_run
    target = tmp_path / "run.pdf"
    proc = subprocess.run([sys.executable, "-m", "evidence.cli", "pdf", str(out), "--out", str(target)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    data = target.read_bytes()
    assert data.startswith(b"%PDF") and page_count(data) >= 2
    assert proc.stdout.strip() == f"wrote {target}: {page_count(data)} pages, {len(data) / 1024:.0f} KiB"
    (out / "screenshots").mkdir(exist_ok=True)
    (out / "screenshots" / "pdf.json").write_text(json.dumps({"pages": page_count(data), "bytes": len(data)}))


def test_pdf_without_a_browser_or_a_run_says_so_in_one_line(tmp_path, monkeypatch):
    import evidence.pdf as pdf

    with pytest.raises(pdf.PdfError, match="no index.html here; give the folder of a finished run"):
        pdf.write_pdf(tmp_path)
    (tmp_path / "index.html").write_text("<html></html>")
    monkeypatch.setattr(pdf, "find_browser", lambda: None)
    with pytest.raises(pdf.PdfError, match=r"needs Chromium .*apt-get install chromium.*no PDF was written"):
        pdf.write_pdf(tmp_path)
    assert not list(tmp_path.glob("*.pdf"))
