"""The group table of a sweep (irn.stats.compare's statistics): one row per group, mean and 95%
CI of each group metric, and the paired difference against the best and the reference
group with its verdict. Rendered for the terminal (rich) and as markdown (MLflow)."""
from irn.stats.compare import GROUP_METRICS
from irn.stats.verdicts import MAX_SEEDS_ESTIMATE
from irn.metric_registry import metric_spec


def _stat(stat: dict | None, fmt: str) -> str:
    if not stat:
        return "-"
    ci = stat.get("ci95")
    return f"{stat['mean']:{fmt}}" + (f" [{ci[0]:{fmt}}, {ci[1]:{fmt}}]" if ci else " [-]")


def _versus(d: dict | None, fmt: str, self_word: str) -> str:
    if not d:
        return "-"
    if d.get("self"):
        return f"({self_word})"
    if d["delta"] is None:
        return "no common images"
    ci = d["ci95"]
    interval = f"[{_signed(ci[0], fmt)}, {_signed(ci[1], fmt)}]" if ci else "[-]"
    word = d["verdict"]
    if d.get("negligible"):
        word += " (negligible)"
    elif word == "undecided" and d.get("seeds_to_decide"):
        need = d["seeds_to_decide"]
        word += f" (~{need} seeds)" if need <= MAX_SEEDS_ESTIMATE else \
            f" (>{MAX_SEEDS_ESTIMATE} seeds)"
    spread = {"own": "; own spread"}.get(d.get("spread"), "")
    return f"{_signed(d['delta'], fmt)} {interval} {word}{spread}"


def _signed(v: float, fmt: str) -> str:
    """+0.13; a value that the format would round to 0 keeps two significant digits."""
    text = f"{v:+{fmt}}"
    return f"{v:+.2g}" if v and float(text) == 0 else text


def rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows) sorted best first; groups without a finished trial last."""
    comp = summary["comparison"]
    metric = comp["metric"]
    spec = metric_spec(metric)
    shown = [m for m in dict.fromkeys((*GROUP_METRICS, metric))  # those some group has
             if m == metric or any(m in g for g in summary["groups"])]
    header = ["#", "group", "seeds", comp.get("image_unit", "images"),
              *[_head(m) for m in shown],
              f"vs best ({metric})", f"vs reference ({comp['reference']})"]
    sign = 1 if summary["mode"] == "max" else -1
    groups = sorted(summary["groups"], key=lambda g: (metric not in g,
                                                      -sign * g.get(metric, {}).get("mean", 0)))
    out = []
    for i, g in enumerate(groups, 1):
        seeds = ",".join(map(str, g["seeds"])) or f"0 of {g['trials']} finished"
        out.append([str(i), g["label"], seeds, str(g["n_images"]),
                    *[_stat(g.get(m), metric_spec(m).fmt) for m in shown],
                    _versus(g.get("vs_best"), spec.fmt, "best"),
                    _versus(g.get("vs_reference"), spec.fmt, "reference")])
    return header, out


def stored(summary: dict) -> dict:
    """The group table as summary.json keeps it (`group_table`), for readers that render it
    without this module (the report)."""
    header, body = rows(summary)
    return {"header": header, "rows": body}


def also_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the TUNE compare metrics: per group, each metric's mean [CI] and
    its paired difference from the reference group; empty when there are none."""
    also = summary.get("also") or []
    if not also:
        return [], []
    header = ["group", "seeds", "images"]
    for block in also:
        header += [_head(block["metric"]), f"{block['metric']} vs {block['reference']}"]
    by_label = [{g["label"]: g for g in block["groups"]} for block in also]
    out = []
    for label in dict.fromkeys(label for groups in by_label for label in groups):
        first = next(groups[label] for groups in by_label if label in groups)
        cells = [label, ",".join(map(str, first["seeds"])) or "-", str(first["n_images"])]
        for block, groups in zip(also, by_label):
            g, fmt = groups.get(label, {}), metric_spec(block["metric"]).fmt
            cells += [_stat(g.get("stat"), fmt),
                      _versus(g.get("vs_reference"), fmt, "reference")]
        out.append(cells)
    return header, out


def _head(metric: str) -> str:
    unit = metric_spec(metric).unit
    return f"{metric} ({unit})" if unit else metric


def _rich_table(title: str, header: list[str], body: list[list[str]]):
    from rich.table import Table
    table = Table(title=title)
    for col in header:
        table.add_column(col, justify="left" if col in ("group", "seeds") else "right")
    for r in body:
        table.add_row(*r)
    return table


def family_line(summary: dict) -> str:
    """What stands behind the verdicts: margin, correction, pooled spread (one line)."""
    comp = summary["comparison"]
    if "family" not in comp:  # a summary from before the four verdicts
        return "paired differences: 95% intervals, one per comparison"
    spec = metric_spec(comp["metric"])
    unit = f" {spec.unit}" if spec.unit else ""
    pooled = comp.get("pooled") or {}
    if pooled.get("sd") is not None:
        spread = (f"seed spread pooled over {len(pooled['groups'])} groups "
                  f"(sd {pooled['sd']:.3g}{unit} per replicate mean, {pooled['df']} df)")
        if pooled.get("out_of_line"):
            tiles = pooled.get("by_tiles") or {}
            why = [f"{g} (out of line" + (f"; its seeds differ tile by tile {tiles[g]:.0f}x "
                                          "the others' variance)" if g in tiles else ")")
                   for g in pooled["out_of_line"]]
            spread += "; own spread for " + ", ".join(why)
    else:
        spread = "each comparison's own seed spread"
    looks = comp.get("looks", 1)
    family = f"{comp['family']} comparison(s)" if looks == 1 else \
        f"{comp['family']} comparisons ({comp['family'] // looks} pairs x {looks} looks: " \
        "seeds auto)"
    return (f"paired differences (same image, same replicate): {comp['confidence']:.2%} "
            f"intervals, {comp['correction']} over {family} (95% for "
            f"the family); {spread}; margin +-{comp['margin']:g}{unit}: better/worse "
            "(negligible: inside the margin), equivalent, undecided (~N seeds: about how "
            "many per group would decide it)")


def rich_table(summary: dict):
    return _rich_table("groups: mean [95% CI] over seeds x images; " + family_line(summary),
                       *rows(summary))


ALSO_TITLE = "the TUNE compare metrics against the reference: mean [95% CI] over seeds x " \
             "images, paired difference (same image, same replicate)"


def also_table(summary: dict):
    """The rich table of also_rows, or None."""
    header, body = also_rows(summary)
    return _rich_table(ALSO_TITLE, header, body) if body else None


def md(text: str) -> str:
    """Text for markdown: `|` would split a table cell, `*` and `_` would start emphasis
    (labels like l1+0.2*ms_ssim|l2); backslash-escaped, as CommonMark allows."""
    return "".join("\\" + c if c in "\\|*_`" else c for c in str(text))


def markdown_table(header: list[str], body: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(md(h) for h in header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(md(c) for c in r) + " |" for r in body])


def markdown(summary: dict) -> str:
    header, body = rows(summary)
    lines = [f"**{md(summary['comparison']['sentence'])}**", ""] + markdown_table(header, body)
    also_header, also_body = also_rows(summary)
    if also_body:
        lines += ["", f"*{md(ALSO_TITLE)}*", ""] + markdown_table(also_header, also_body)
    lines += ["", md("Group columns: mean [95% CI] over seeds x images. The versus columns: "
                     + family_line(summary) + " (bench/STATISTICS.md).")]
    return "\n".join(lines) + "\n"


def metrics_legend(summary: dict) -> str:
    """The registry's entry for every metric the trials logged: unit, direction, baseline,
    meaning (MLflow shows names only)."""
    from irn.metric_registry import metric_spec
    names = sorted({k for t in summary["trials"] for k in t.get("metrics", {})} | {"gain_db"})
    lines = ["| metric | unit | better | compared with | meaning |", "|---|---|---|---|---|"]
    for name in names:
        spec = metric_spec(name)
        if spec:
            lines.append(f"| {md(name)} | {spec.unit or '-'} | "
                         f"{'higher' if spec.mode == 'max' else 'lower'} | "
                         f"{md(spec.baseline or '')} | {md(spec.doc)} |")
    return "\n".join(lines) + "\n"
