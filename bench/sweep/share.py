"""`python -m bench.sweep_share SWEEP.json PROFILE.json`: what sharing one device costs.

The trials of a sweep that share a GPU (`--gpus-per-trial 0.25`: four at once) each train
at their own pace; this compares their combined training speed with one process alone on
the same device (bench.profile's steps/s for the same budget). Each trial's speed is
1 / (time/data + time/compute) of its last report (the mean over its last evaluation
interval, as bench/sweep/trainable.py reports it), summed over the trials that ran at once. A
ratio above 1 means sharing the card trains more steps per second in total than one
process can; below 1, the trials got in each other's way. bench/gpu_check.sh runs it.
"""
import json
import sys

from bench.common.cli import OneLineParser, UsageError, fail, write_json_atomic


def trial_speeds(summary: dict) -> list[tuple[str, float]]:
    """(trial name, steps/s) of every finished trial with timings."""
    out = []
    for t in summary.get("trials", []):
        m = t.get("metrics") or {}
        step_s = (m.get("time/data") or 0) + (m.get("time/compute") or 0)
        if t.get("status") == "FINISHED" and step_s > 0:
            out.append((t["name"], 1.0 / step_s))
    return out


def share(summary: dict, profile: dict) -> dict:
    speeds = trial_speeds(summary)
    if not speeds:
        raise UsageError("the sweep summary has no finished trial with time/data and "
                         "time/compute")
    alone = profile["results"][0]["steps_per_s"]
    total = sum(s for _, s in speeds)
    return {"trials": [{"name": n, "steps_per_s": s} for n, s in speeds],
            "combined_steps_per_s": total, "alone_steps_per_s": alone,
            "ratio": total / alone, "device": profile["results"][0].get("precision")}


def main(argv=None) -> int:
    p = OneLineParser(prog="python -m bench.sweep_share", description=__doc__.split("\n\n")[1])
    p.add_argument("sweep", help="the sweep's --json summary")
    p.add_argument("profile", help="bench.profile --json of one process, same budget")
    p.add_argument("--json", metavar="OUT", help="the comparison as JSON")
    args = p.parse_args(argv)
    try:
        docs = []
        for path in (args.sweep, args.profile):
            try:
                with open(path, encoding="utf-8") as f:
                    docs.append(json.load(f))
            except (OSError, json.JSONDecodeError) as e:
                raise UsageError(f"cannot read {path}: {e}") from None
        result = share(*docs)
    except UsageError as e:
        return fail(e)
    for t in result["trials"]:
        print(f"  {t['name']}: {t['steps_per_s']:.2f} steps/s")
    print(f"{len(result['trials'])} trials together: {result['combined_steps_per_s']:.2f} "
          f"steps/s; one process alone: {result['alone_steps_per_s']:.2f} steps/s; "
          f"ratio {result['ratio']:.2f}")
    if args.json:
        write_json_atomic(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
