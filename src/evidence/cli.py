"""Command line: ``evidence run``, ``validate``, ``init``, ``add-month``, ``generate-records``, ``records-panel``, ``build-designations``, ``refresh-notebooks``.

User errors print one line (``error: ...``) and exit with status 2; an interrupted run exits with 130. Neither
shows a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evidence", description="ICS evidence workbook")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the workbook notebooks on a parameters file and publish reports/<run_name>/")
    r.add_argument("params", help="parameters file (YAML)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (repeatable); without --set run_name=NAME the report goes to reports/<run_name>--set-<hash>/, never over the file's own report")
    r.add_argument("--only", action="append", default=None, metavar="NOTEBOOK", help="run only this notebook (repeatable); without --set run_name=NAME the report goes to reports/<run_name>--only-<notebooks>/, never over the full report")
    r.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2; capped at the machine's cores)")
    r.add_argument("--no-wait", action="store_true", help="if another run of the same run name is running, say which and exit with status 2 instead of waiting for it")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.add_argument("--reports", default=None, metavar="DIR", help="folder for reports (default: reports/ in the project, or $EVIDENCE_REPORTS)")
    v = sub.add_parser("validate", help="validate a parameters file and its data without running notebooks")
    v.add_argument("params")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    i = sub.add_parser("init", help="write a starter parameters file for your own CSV/Parquet panel (detected columns, comments on every choice)")
    i.add_argument("data", metavar="DATA_FILE", help="CSV, CSV.GZ or Parquet file, one row per unit and period")
    i.add_argument("--out", default=None, metavar="PATH", help="parameters file to write (default: params/<file stem>.yaml in the working folder)")
    i.add_argument("--force", action="store_true", help="replace the parameters file if it exists")
    g = sub.add_parser("generate-records", help="write SYNTHETIC record-level spells or A&E attendances (Parquet) consistent with the real A&E data")
    g.add_argument("out", help="output folder (synthetic_<kind>_YYYY-MM.parquet files and synthetic_manifest.json)")
    g.add_argument("--kind", choices=("spells", "attendances"), default="spells")
    size = g.add_mutually_exclusive_group()
    size.add_argument("--n-records", type=int, default=None, help="about this many records in total")
    size.add_argument("--scale", type=float, default=None, help="records per real event (default 1.0)")
    g.add_argument("--start", default="2016-04")
    g.add_argument("--end", default="2019-03")
    g.add_argument("--seed", type=int, default=20170615)
    a = sub.add_parser("records-panel", help="check and aggregate record-level data to a footprint x month panel CSV (the data.records.* parameters)")
    a.add_argument("params", help="parameters file with data.records.path")
    a.add_argument("out", help="CSV file to write")
    a.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    sub.add_parser("build-designations", help="rebuild data/reference/ics_designations.csv from the raw waves file")
    m = sub.add_parser("add-month", help="check an NHS England monthly A&E provider file (.xls/.csv) and add its month to data/local/nhs_monthly/")
    m.add_argument("file", help="the monthly provider file as published (MSitAE; its name does not matter)")
    m.add_argument("--replace", action="store_true", help="supersede a month already present (an earlier local version is kept under replaced/)")
    m.add_argument("--folder", default=None, metavar="DIR", help="folder for local months (default data/local/nhs_monthly/ in the project)")
    f = sub.add_parser("pdf", help="print a finished run's summary and findings (its index page) to one A4 PDF with Chromium")
    f.add_argument("run_dir", metavar="REPORTS/RUN", help="the run's report folder, such as reports/default")
    f.add_argument("--out", default=None, help="the PDF to write (default: <run folder>/<run name>.pdf)")
    n = sub.add_parser("refresh-notebooks", help="re-execute notebooks/ in place on their default parameters (outputs committed for reading and nbval)")
    n.add_argument("--only", action="append", default=None, metavar="NOTEBOOK")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .errors import EvidenceError

    try:
        if args.command == "run":
            from .runner import run

            import os
            from pathlib import Path

            from .paths import REPORTS

            reports = Path(args.reports or os.environ.get("EVIDENCE_REPORTS") or REPORTS)
            out = run(args.params, args.overrides, args.only, jobs=args.jobs, reports=reports, quiet=args.quiet, wait=not args.no_wait)
            if not args.quiet:
                from .paths import display

                print(f"report: {display(out / 'index.html')}")
        elif args.command == "validate":
            from .params import load_params
            from .pipeline import preflight, prepare

            params = load_params(args.params, args.overrides)
            panel, design = prepare(params)
            preflight(params, panel, design)
            for note in panel.notes + design.notes:  # how dates were read, units dropped, the window cut ...
                print(f"note: {note}")
            from .index import shape_text

            shapes = []
            for name, pn, window in (("panel.csv (built)", panel, (panel.period_labels[0], panel.period_labels[-1])), ("analysis_panel.csv (used by the estimators)", design.panel, tuple(design.window))):
                frame = pn.to_frame()  # the files `evidence run` writes, in the same words as its console and index
                shapes.append(f"{name} " + shape_text({"units": pn.n_units, "periods": pn.n_periods, "rows": len(frame), "columns": frame.shape[1] + bool(params["report.synthetic"]), "window": list(window)}))
            print(f"ok: {'; '.join(shapes)}; {design.describe()}")
        elif args.command == "init":
            from .starter import write_starter

            for line in write_starter(args.data, args.out, force=args.force).lines():
                print(line)
        elif args.command == "generate-records":
            from .records import generate_records

            res = generate_records(args.out, kind=args.kind, n_records=args.n_records, scale=args.scale, start=args.start, end=args.end, seed=args.seed)
            print(f"{'kept' if res.reused else 'wrote'} {res.n_records:,} SYNTHETIC {res.kind} records in {len(res.files)} files under {res.directory}")
        elif args.command == "records-panel":
            from .errors import ParamsError
            from .params import load_params
            from .pipeline import load_panel
            from pathlib import Path

            from .paths import display

            params = load_params(args.params, args.overrides)
            if params["data.source"] != "records":
                raise ParamsError(f"params file {params.source}: data.records.path is empty; records-panel aggregates record-level data.")
            panel = load_panel(params)
            out = Path(args.out).expanduser().resolve()  # a command-line path: from the working folder
            tmp = out.with_name(out.name + ".tmp")
            panel.to_frame().to_csv(tmp, index=False, lineterminator="\n")
            tmp.replace(out)
            for note in panel.notes:
                print(f"note: {note}")
            print(f"wrote {display(out)}: {panel.n_units} units x {panel.n_periods} months, outcomes {', '.join(panel.outcomes)}")
        elif args.command == "build-designations":
            from .data.designations import write_designations

            print(f"wrote {write_designations()}")
        elif args.command == "add-month":
            from pathlib import Path

            from .data.monthly import add_month

            res = add_month(Path(args.file).resolve(), Path(args.folder).resolve() if args.folder else None, replace=args.replace)
            for line in res.lines():
                print(line)
        elif args.command == "pdf":
            from .pdf import write_pdf

            print(write_pdf(args.run_dir, args.out).line())
        elif args.command == "refresh-notebooks":
            from .notebooks import refresh

            for path in refresh(args.only):
                print(f"refreshed {path}")
        return 0
    except EvidenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was published and the previous report is unchanged.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user error: one line here, the traceback with EVIDENCE_DEBUG=1
        import os

        if os.environ.get("EVIDENCE_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); rerun with EVIDENCE_DEBUG=1 for the traceback and report it.", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
