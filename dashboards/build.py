"""Build the sweep report: one self-contained HTML page from an MLflow experiment.

    python -m dashboards.build --experiment NAME [--tracking-uri URI] [--parent RUN_ID]
                               --out report.html [--png DIR]

The page leads with the verdicts' evidence: every group's paired difference from the reference
and from the best (forest plot, the family's intervals, one colour per verdict) with the group
table under it; then whether training was done (group mean curves with seed bands), the
two-factor grid coloured by paired difference, the gain on each validation image, parallel
coordinates with the sortable trial table linked to its selection and to MLflow's run pages,
which parameters matter (ANOVA with the seed as a factor), the objective against each
parameter, the training curves, quality against cost, JPEG robustness, where the sweep's time
went, and a gallery with error maps and each group's difference from the reference. A group
has one colour everywhere (dashboards/colors.py), as in MLflow's runs table.
Sections without data are left out with a one-line note. The page
embeds plotly.js and its images, so it opens with no network.

Default --parent: the latest sweep parent run (tag irn.role=sweep) in the experiment; with no
sweep in the experiment, its other runs (bench.train singles). --png DIR also writes each
figure as a PNG through kaleido, which needs a Chrome/Chromium (Debian: apt-get install chromium);
without one the export is skipped with one line. Exit 2 with one line on bad input: an
experiment or run that does not exist, or nothing finished.

From Python (the sweep calls these at its end):
    path = build_report("NAME", tracking_uri=URI, parent=RUN_ID, out="report.html")
    attach_to_run(RUN_ID, path, tracking_uri=URI)
"""
import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from dashboards import gallery, training
from dashboards.data import (DashboardError, load_crops, load_histories, load_json_artifact,
                             load_per_image, load_sweep, public_uri)
from dashboards.figures import MAX_TRACES, Section
from dashboards.sections import Inputs, render_all
from dashboards.summary import Summary
from dashboards.page import render
from irn.atomic import atomic_write
from irn.cli import OneLineParser
from dashboards import schema

RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"  # MLflow's client retry count (env)


def _check_png_dir(folder: Path) -> None:
    """--png DIR: a folder, or one that can be made (its nearest existing ancestor is a
    writable folder); checked before --out is written, so a bad DIR leaves nothing behind."""
    if folder.exists() and not folder.is_dir():
        raise DashboardError(f"--png {folder} exists and is not a folder")
    ancestor = folder.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DashboardError(f"--png {folder}: {ancestor} is a file, so the folder cannot be made")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise DashboardError(f"--png {folder}: cannot write in {ancestor}")


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise DashboardError(f"--out {out} is a folder; give a file path such as report.html")
    if not out.parent.is_dir():
        raise DashboardError(f"folder for --out does not exist: {out.parent}")


def find_chrome() -> str | None:
    """The Chrome/Chromium kaleido would use (Debian's chromium, or one from choreo_get_chrome)."""
    try:
        from choreographer.browsers.chromium import Chromium
        return Chromium.find_browser(skip_local=False)
    except Exception:  # choreographer's search is best effort; fall back to PATH
        return next((p for n in ("chromium", "chromium-browser", "google-chrome")
                     if (p := shutil.which(n))), None)


def export_pngs(sections: list[Section], folder: Path, log=print) -> list[Path]:
    """Each figure as folder/<section>.png via kaleido (one browser for all of them)."""
    figures = [s for s in sections if s.figure is not None]
    if not find_chrome():
        log("PNG export skipped: no Chrome/Chromium found (Debian: apt-get install chromium)")
        return []
    import plotly.io as pio
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".png-") as tmp:
        parts = [Path(tmp) / f"{s.key}.png" for s in figures]
        pio.write_images([s.figure for s in figures], parts, width=1200,
                         height=[s.figure.layout.height or 500 for s in figures])
        paths = [folder / p.name for p in parts]
        for part, path in zip(parts, paths):
            os.replace(part, path)
    log(f"wrote {len(paths)} PNG(s) to {folder}")
    return paths


def build_report(experiment: str, tracking_uri: str | None = None, parent: str | None = None,
                 out="report.html", png_dir=None, log=print) -> Path:
    """Build the report for `parent` (default: the experiment's latest sweep) and write it to
    `out` atomically; returns its path. Raises DashboardError on bad input."""
    out = Path(out)
    _check_out(out)
    if png_dir is not None:
        _check_png_dir(Path(png_dir))
    sweep = load_sweep(experiment, tracking_uri, parent)
    done = sweep.finished
    hist = load_histories(sweep, done["run_id"][:MAX_TRACES], training.CURVE_KEYS)
    crops = load_crops(sweep, gallery.pick_runs(sweep))
    summary = load_json_artifact(sweep.client, sweep.parent_id, schema.SUMMARY) \
        if sweep.parent_id else None
    per_image = load_per_image(sweep)
    sections = render_all(Inputs(sweep, Summary.of(summary), per_image, crops, hist))
    tags = sweep.parent_tags
    best = done.iloc[0]
    obj = sweep.objective
    meta = {
        "experiment": sweep.experiment,
        "sweep run": f"{sweep.parent_name} ({sweep.parent_id})" if sweep.parent_id
        else "none: the experiment's runs without a sweep parent",
        "search space": tags.get(schema.SPACE), "budget": tags.get(schema.BUDGET),
        "git commit": tags.get(schema.GIT_COMMIT), "host": tags.get(schema.HOST),
        "gpu": tags.get(schema.GPU),
        "objective": f"{obj} ({sweep.mode})",
        "trials": f"{len(done)} finished, {len(sweep.failed)} failed or unfinished",
        "best": f"{best['trial']}: {obj} = {best.get('m:' + obj, float('nan')):.4g}",
        "tracking URI": public_uri(sweep.tracking_uri),
    }
    study = sweep.parent_name or experiment
    title = f"{study}: sweep report (experiment {experiment})"
    with atomic_write(out, encoding="utf-8") as f:  # a reader never sees half a report
        f.write(render(title, meta, sections))
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB; "
        f"{sum(s.figure is not None for s in sections)} figures, "
        f"{sum(bool(s.note) for s in sections)} section(s) left out)")
    if png_dir is not None:
        export_pngs(sections, Path(png_dir), log=log)
    return out


def attach_to_run(run_id: str, path, tracking_uri: str | None = None) -> None:
    """Log the built report as an artifact of the (sweep parent) run."""
    from mlflow.tracking import MlflowClient
    MlflowClient(tracking_uri=tracking_uri).log_artifact(run_id, str(path))


class ReportParser(OneLineParser):
    error_prefix = "dashboards.build: "


def main(argv=None) -> int:
    p = ReportParser(prog="python -m dashboards.build", description=__doc__.split("\n\n")[0],
                      epilog="\n\n".join(__doc__.split("\n\n")[2:]),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--experiment", required=True, metavar="NAME", help="MLflow experiment name")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow store, e.g. sqlite:///mlflow.db or http://host:5000 "
                        "(default: $MLFLOW_TRACKING_URI, else MLflow's default)")
    p.add_argument("--parent", metavar="RUN_ID",
                   help="sweep parent run (default: the latest sweep in the experiment)")
    p.add_argument("--out", required=True, metavar="PATH", help="HTML file to write")
    p.add_argument("--png", metavar="DIR", help="also write each figure as DIR/<section>.png")
    args = p.parse_args(argv)
    # MLflow retries an unreachable server for minutes by default; a CLI should say so sooner.
    # Only for this call: main() also runs inside other processes (tests, notebooks), whose
    # own MLflow clients (a sweep riding out a server restart) keep their retries.
    previous = os.environ.get(RETRIES)
    os.environ.setdefault(RETRIES, "2")
    try:
        build_report(args.experiment, args.tracking_uri, args.parent, args.out, args.png)
    except DashboardError as e:
        print(f"dashboards.build: error: {e}", file=sys.stderr)
        return 2
    finally:
        if previous is None:
            os.environ.pop(RETRIES, None)
    return 0



if __name__ == "__main__":
    sys.exit(main())
