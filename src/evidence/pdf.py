"""``evidence pdf reports/<run>``: one PDF of a run's summary and findings (its ``index.html`` printed to A4).

Context: board papers travel as PDFs. Decision: Chromium prints the run's index page — the summary, the findings,
the design and robustness sections; the technical appendix and navigation are left out by the page's print style —
with its headless ``--print-to-pdf`` (the browser the test suite already uses; no Python PDF dependency).
Consequences: where Chromium is missing the command says so in one line and writes nothing; the reports themselves
are unaffected.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import EvidenceError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


class PdfError(EvidenceError):
    """The PDF cannot be written (no run folder, no browser, the browser failed)."""


@dataclass
class PdfResult:
    path: Path
    pages: int
    bytes: int

    def line(self) -> str:
        return f"wrote {self.path}: {self.pages} page{'s' if self.pages != 1 else ''}, {self.bytes / 1024:.0f} KiB"


def find_browser() -> str | None:
    """The Chromium executable on PATH (or at /usr/bin/chromium), if any."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def page_count(pdf: bytes) -> int:
    """Number of pages of a PDF (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def write_pdf(run_dir: str | Path, out: str | Path | None = None, timeout: float = 120) -> PdfResult:
    """Print ``run_dir/index.html`` to ``out`` (default ``run_dir/<run folder name>.pdf``)."""
    run = Path(run_dir)
    index = run / "index.html"
    if not index.is_file():
        raise PdfError(f"{run.resolve()}: no index.html here; give the folder of a finished run, such as reports/default (a relative path is read from the working folder).")
    browser = find_browser()
    if browser is None:
        raise PdfError("evidence pdf needs Chromium to print the report (apt-get install chromium); none was found, so no PDF was written.")
    target = Path(out) if out else run / f"{run.name}.pdf"
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", f"--print-to-pdf={target}", index.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish printing {index} within {timeout:.0f} s; no PDF was written.") from None
    if not target.is_file() or target.stat().st_size == 0:
        last = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise PdfError(f"Chromium could not print {index} ({last[0][:160]}); no PDF was written.")
    data = target.read_bytes()
    return PdfResult(target, page_count(data), len(data))
