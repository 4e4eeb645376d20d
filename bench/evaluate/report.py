"""The tables `python -m bench.evaluate` prints (names, units, formats, baselines from the
metric registry), the per-image CSV, and the MLflow evaluation run."""
import csv
import io
import os
import re
import tempfile

from rich.console import Console
from rich.table import Table

from irn.stats.verdicts import level
from irn.atomic import atomic_write
from irn.metric_registry import metric_spec
from dashboards import schema


def _ci(stat: dict, spec) -> str:
    ci = stat.get("ci95")
    text = spec.format(stat["mean"])
    return f"{text} [{spec.format(ci[0])}, {spec.format(ci[1])}]" if ci else f"{text} [-]"


def dataset_caption(name: str, ds: dict, setup: dict) -> str:
    z = setup["z"]
    line = f"{name}: {ds['n_images']} images, x{setup['scale']}, fit {setup['fit']}, z {z}"
    if ds["n_images"] < 10:  # irn.stats.compare: the t interval, wide with so few images
        line += f" (only {ds['n_images']} images: t interval, wide)"
    spread = ds.get("z_draws")
    if spread:
        sd = f"{spread['sd']:.3f} dB" if spread["sd"] is not None else "- (one draw)"
        line += (f" ({spread['draws']} draws: psnr_y is the mean over draws; the dataset mean "
                 f"varies over draws by sd {sd}; psnr_y_zero is z = 0)")
    return line


def metrics_table(name: str, ds: dict, setup: dict) -> Table:
    table = Table(title=dataset_caption(name, ds, setup), title_justify="left")
    for col, justify in (("metric", "left"), ("mean [95% CI over images]", "right"),
                         ("n", "right"), ("baseline", "right"), ("unit", "left"),
                         ("meaning", "left")):
        table.add_column(col, justify=justify)
    summary = ds["metrics"]
    for key, stat in summary.items():
        spec = metric_spec(key)
        base = summary.get(spec.baseline) if spec.baseline else None
        table.add_row(key, _ci(stat, spec), str(stat["n"]),
                      f"{spec.format(base['mean'])} ({spec.baseline})" if base else "",
                      spec.unit, spec.doc)
    return table


def published_table(name: str, rows: list[dict]) -> Table:
    family = rows[0].get("family", 1) if rows else 1
    how = (f"{level(family):.2%} intervals, Bonferroni over {family} rows" if family > 1
           else "95% interval")
    table = Table(title=f"{name}: published rows beside ours (ours - published over our "
                  f"images: {how}; verdict against the registry's margin)",
                  title_justify="left")
    for col, justify in (("published row", "left"), ("metric", "left"), ("published", "right"),
                         ("ours [95% CI]", "right"), ("ours - published", "right"),
                         ("verdict", "left"),
                         ("source", "left")):
        table.add_column(col, justify=justify)
    for r in rows:
        spec = metric_spec(r["metric"])
        label = r["method"] + (f" QF {r['qf']}" if r["qf"] else "")
        d = r["delta_ci95"]
        delta = f"{r['delta']:+{spec.fmt}}" + (f" [{d[0]:+{spec.fmt}}, {d[1]:+{spec.fmt}}]"
                                                if d else "")
        word = r.get("verdict", "")
        if r.get("negligible"):
            word += " (negligible)"
        table.add_row(label, r["metric"], spec.format(r["published"]), _ci(r["ours"], spec),
                      delta, word, r["source"])
    return table


def all_tables(result: dict) -> list[Table]:
    out = []
    for name, ds in result["datasets"].items():
        out.append(metrics_table(name, ds, result["setup"]))
        if ds["published"]:
            out.append(published_table(name, ds["published"]))
    return out


def as_text(tables: list[Table], width: int = 200) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    for t in tables:
        console.print(t)
    return console.export_text()


def write_csv(path, rows: list[dict]) -> None:
    """Per-image rows of every dataset, one header (the union of the columns), atomically."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def _key(name: str) -> str:
    return re.sub(r"[^\w\-. ]", "_", name)  # what an MLflow metric name may hold


def log_evaluation(tracker, result: dict, rows: list[dict], text: str) -> str:
    """One MLflow run, irn.role=evaluation, linked to the trained run by irn.source_run (and
    irn.source_trial) when it came from one; metrics DATASET/METRIC (the means), artifacts
    per_image.csv, table.txt, summary.json."""
    from bench.common.tracking import host_tags
    source = result["source"]
    tags = {schema.ROLE: schema.ROLE_EVALUATION, "irn.checkpoint": source["checkpoint"],
            **host_tags()}
    if source.get("run_id"):
        tags["irn.source_run"] = source["run_id"]
    if source.get("trial"):
        tags["irn.source_trial"] = source["trial"]
    run_id = tracker.create_run(f"evaluate|{os.path.basename(source['checkpoint'])}", tags)
    tracker.log_params(run_id, result["setup"])
    means = {f"{_key(ds)}/{m}": s["mean"] for ds, d in result["datasets"].items()
             for m, s in d["metrics"].items()}
    tracker.log_metrics(run_id, means, step=0)
    with tempfile.TemporaryDirectory() as d:
        write_csv(os.path.join(d, "per_image.csv"), rows)
        tracker.log_file(run_id, os.path.join(d, "per_image.csv"))
    tracker.log_text(run_id, text, "table.txt")
    tracker.log_json(run_id, result, schema.SUMMARY)
    tracker.finish(run_id)
    return run_id
