"""One colour per group for the whole report (and for the trial runs in MLflow's table, tag
mlflow.runColor), and one colour per verdict. The two sets do not share a hue, so a colour
never means a group in one section and a verdict in the next (issue 31)."""

# one colour per verdict (irn/stats/verdicts.py); "indistinguishable" is the word of
# summaries from before the four verdicts, drawn as undecided
VERDICT_COLORS = {"best": "#2ca02c", "better": "#1f77b4", "worse": "#d62728",
                  "equivalent": "#17becf", "undecided": "#7f7f7f", "indistinguishable": "#7f7f7f"}
# Groups: hues away from the verdicts' green, blue, red, teal and grey (Vega's category20b
# and Plotly's G10 without those), dark enough to read as lines on white.
GROUP_PALETTE = ("#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#393b79",
                 "#637939", "#8c6d31", "#843c39", "#7b4173", "#ce6dbd", "#e7ba52",
                 "#5254a3", "#ad494a", "#b5cf6b", "#a55194")


def group_colors(labels) -> dict[str, str]:
    """label -> colour, by the labels' sorted order: a group keeps its colour in every
    section, in MLflow, and in a rerun of the same study (whatever its rank there)."""
    ordered = sorted({str(label) for label in labels})
    return {label: GROUP_PALETTE[i % len(GROUP_PALETTE)] for i, label in enumerate(ordered)}
