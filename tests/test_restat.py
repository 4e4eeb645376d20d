"""bench.restat: a stored sweep summary's verdicts recomputed with this version's statistics,
no trial rerun (made-up summaries with known answers)."""
import json

from bench.sweep.restat import main
from tests.test_versus import summary, write


def stored(shift_l2=0.3):
    """A summary as an older version stored it: trials with per-image rows, the reference
    by label, no pooled spread or family fields."""
    s = summary(labels=("l1", "l2", "huber"), seeds=(0, 1, 2))
    for t in s["trials"]:
        t["group"], t["config"] = t["label"], {"loss": t["label"]}
        t["replicate"] = t["seed"]
        t["trial_id"] = f"{t['label']}-{t['seed']}"
    s.update(mode="max", comparison={"reference": "l2"})
    return s


def test_restat_recomputes_every_verdict_with_the_pooled_spread(tmp_path, capsys):
    out = tmp_path / "new.json"
    assert main([write(tmp_path, "old.json", stored()), "--json", str(out)]) == 0
    new = json.loads(out.read_text())
    comp = new["comparison"]
    assert comp["reference"] == "l2" and comp["family"] == 3
    assert comp["pooled"]["df"] == 4 and comp["correction"] == "Bonferroni"
    by = {g["label"]: g for g in new["groups"]}
    # summary(): group g sits 0.3*g dB above l1, so l1 is 0.3 dB below the reference l2
    assert by["l1"]["vs_reference"]["verdict"] == "worse"
    assert by["huber"]["vs_reference"]["verdict"] == "better"
    assert "verdict: huber leads l2" in capsys.readouterr().out


def test_restat_margin_and_bad_input(tmp_path, capsys):
    path = write(tmp_path, "old.json", stored())
    out = tmp_path / "new.json"
    assert main([path, "--margin", "psnr_y=-1", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the margin of psnr_y must be a finite number >= 0" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    assert main([path, "--margin", "psnr_y=1.0", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["comparison"]["margin"] == 1.0
    assert main([str(tmp_path / "missing.json")]) == 2


def test_markdown_tables_escape_pipes_and_stars(tmp_path):
    # issue 31: `|` in "vs reference (charbonnier|l2)" split the description's table, and
    # the `*` of l1+0.2*ms_ssim turned into italics
    import re

    from bench.sweep.group_table import markdown
    from bench.sweep.restat import restat
    s = stored()
    for t in s["trials"]:
        t["label"] = {"l1": "l1+0.2*ms_ssim|l1", "l2": "charbonnier|l2"}.get(t["label"],
                                                                         t["label"])
    s["comparison"] = {"reference": "charbonnier|l2"}
    text = markdown(restat(s))
    table = [ln for ln in text.splitlines() if ln.startswith("|")]
    unescaped = [len(re.findall(r"(?<!\\)\|", ln)) for ln in table]
    assert len(set(unescaped)) == 1 and len(table) == 2 + 3  # header, rule, 3 groups
    assert not any(re.search(r"(?<!\\)\*", ln) for ln in text.splitlines()[2:])
    assert "charbonnier\\|l2" in text and "l1+0.2\\*ms\\_ssim" in text


def test_restat_keeps_the_looks_of_an_auto_seeds_sweep(tmp_path):
    """A sweep that read its verdicts after each of 4 rounds corrects for 3 pairs x 4 looks;
    recomputing it (bench.restat, bench.results) must not narrow that to 3 comparisons."""
    s = stored()
    s["comparison"] = {"reference": "l2", "looks": 4}
    out = tmp_path / "new.json"
    assert main([write(tmp_path, "auto.json", s), "--json", str(out)]) == 0
    comp = json.loads(out.read_text())["comparison"]
    assert comp["looks"] == 4 and comp["family"] == 12
    assert comp["confidence"] == 1 - 0.05 / 12
