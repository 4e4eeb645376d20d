"""The science gate (bench/gate/science.py): unchanged numbers pass; an injected change to a
loss term (1e-6 relative) fails with its paired difference over the tiles unless a
`Science-change:` trailer declares it; a change to psnr_y's rounding fails in the
evaluation part. Real probes in real git trees (a clone of this repository), at the smoke
budget's tiles (SCIENCE_BUDGET=smoke) and 3 steps (SCIENCE_STEPS=3) to keep it short."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gate import science as science_gate
from bench.gate.command import worktree

ROOT = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def rows(values, metric="psnr_y"):
    return [{"image": f"t{i}", "seed": 0, "step": 3, metric: v} for i, v in enumerate(values)]


def test_differences_are_paired_over_the_tiles():
    base = {"eval": rows([30.0, 31.0, 32.0, 33.0])}
    assert science_gate.differences(base, base) == []
    (row,) = science_gate.differences(base, {"eval": rows([30.0, 31.0, 32.5, 33.0])})
    assert row["part"] == "eval" and row["metric"] == "psnr_y" and row["changed"] == 1
    assert row["delta"] == pytest.approx(0.125) and row["ci95"][0] < 0.125 < row["ci95"][1]
    assert science_gate.differences(base, {})[0]["change"] == "missing in head"
    gone = science_gate.differences(base, {"eval": rows([30.0] * 4, "ssim_y")})
    assert gone[0]["change"] == "missing in head"


def test_declarations_are_the_trailers_since_base(tmp_path):
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    def commit(message):
        subprocess.run([*GIT, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", message],
                       check=True)
        return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    base = commit("base\n\nScience-change: before the base, not counted")
    commit("a refactor")
    commit("new metric rounding\n\nScience-change: psnr_y rounds half to even")
    found = science_gate.declarations(repo, base)
    assert len(found) == 1 and found[0].endswith(": psnr_y rounds half to even")


def _edit(tree: Path, path: str, old: str, new: str) -> None:
    file = tree / path
    text = file.read_text()
    assert old in text, f"{path} no longer has the line this test edits: {old!r}"
    file.write_text(text.replace(old, new, 1))


def _commit(tree: Path, message: str) -> None:
    subprocess.run([*GIT, "-C", str(tree), "commit", "-q", "-am", message], check=True)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clone of this repository's HEAD (committed code only)."""
    tree = tmp_path_factory.mktemp("science") / "repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(tree)], check=True)
    return tree


def test_the_gate_catches_a_loss_change_and_a_metric_change(clone, tmp_path, monkeypatch,
                                                            capsys):
    monkeypatch.setenv("SCIENCE_STEPS", "3")
    monkeypatch.setenv("SCIENCE_BUDGET", "smoke")
    python = sys.executable
    base_sha = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    with worktree(clone, base_sha) as base_tree:
        # A/A: the same commit on both sides
        probes = science_gate.run_probes(python, {"base": base_tree, "head": clone}, tmp_path)
        aa = science_gate.verdict(probes, [])
        assert aa["unchanged"] and not aa["fails"]
        base_probe = probes["base"]
        # a 1e-6 relative change to the reconstruction term: every 8-bit metric may stay put,
        # the network's unrounded LR moves
        _edit(clone, "irn/objective.py", "terms[name] = (weight * self.cfg.lambda_recon",
              "terms[name] = (weight * self.cfg.lambda_recon * (1 + 1e-6)")
        _commit(clone, "a tiny change to the loss")
        head = science_gate.run_probes(python, {"head": clone}, tmp_path)["head"]
        probes = {"base": base_probe, "head": head}
        loss = science_gate.verdict(probes, science_gate.declarations(clone, base_sha))
        assert loss["fails"] and not loss["unchanged"]
        changed = {(r["part"], r["metric"]) for r in loss["differences"]}
        assert ("train/fp32", "probe/raw_lr_mse") in changed
        assert not any(part == "eval" for part, _ in changed)  # the fixed model: untouched
        row = next(r for r in loss["differences"] if r["metric"] == "probe/raw_lr_mse")
        assert row["n"] == 8 and row["ci95"] is not None  # smoke: 2 photos x 4 tiles
        out = capsys.readouterr().out
        assert "FAIL: undeclared change" in out and "probe/raw_lr_mse: head - base" in out
        # the same change, declared: passes and prints the declaration
        subprocess.run([*GIT, "-C", str(clone), "commit", "-q", "--amend", "-m",
                        "a tiny change to the loss\n\nScience-change: recon term x (1 + 1e-6)"],
                       check=True)
        declared = science_gate.verdict(probes, science_gate.declarations(clone, base_sha))
        assert not declared["fails"] and declared["declared"]
        assert "recon term x (1 + 1e-6)" in capsys.readouterr().out
        # psnr_y's rounding: the evaluation part fails
        subprocess.run(["git", "-C", str(clone), "reset", "-q", "--hard", base_sha], check=True)
        _edit(clone, "irn/metrics.py", "x = torch.round(x * 255).double()",
              "x = torch.floor(x * 255).double()")
        _commit(clone, "floor instead of round")
        head = science_gate.run_probes(python, {"head": clone}, tmp_path)["head"]
        metric = science_gate.verdict({"base": base_probe, "head": head},
                                      science_gate.declarations(clone, base_sha))
        assert metric["fails"]
        assert ("eval", "psnr_y") in {(r["part"], r["metric"]) for r in metric["differences"]}
