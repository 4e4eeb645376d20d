"""The report's learning section: which groups were still improving over the last half of
training, whether the ranking held, and (TUNE fidelity) whether a short budget ranks like a
long one, all from the sweep summary (bench/curves.py)."""
import pandas as pd

from dashboards.figures import Section


def _interval(d: dict) -> str:
    ci = d.get("ci95")
    return f"{d['delta']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")


def learning(summary: dict | None) -> Section:
    title = "Was training done? Still improving, ranking held"
    learn = (summary or {}).get("learning") or {}
    if not learn.get("groups"):
        return Section("learning", title, note="one evaluation per trial, or a summary from "
                       "before learning curves: nothing to say about the trend")
    rows = [{"group": g["label"],
             f"{learn['metric']} step {g['half_step']} -> {g['last_step']}": _interval(g),
             "verdict": g["learning"], "seeds x images": f"{g['n_replicates']} x {g['n_images']}"}
            for g in learn["groups"]]
    blurb = (f"{learn['sentence']}. Each row is a group's paired change (same image, same "
             f"seed) over the last half of training, with {learn['confidence']:.2%} "
             f"simultaneous intervals ({learn['correction']} over {learn['family']} groups); "
             "`still improving` means the interval lies above 0: the verdicts of this sweep "
             "rank how fast variants learn at this budget, which may not be how they end.")
    fid = (summary or {}).get("fidelity")
    table = pd.DataFrame(rows)
    if fid:
        blurb += f" Budgets ({fid['key']}): {fid['sentence']}."
        table = pd.concat([table, pd.DataFrame(
            [{"group": v["label"], "verdict": f"{fid['key']}={r['budget']}: {v['short']}; "
              f"{fid['key']}={r['against']}: {v['long']} (survives: {v['survives']})"}
             for r in fid["rows"] for v in r["verdicts"]])], ignore_index=True).fillna("")
    return Section("learning", title, blurb, table=table)
