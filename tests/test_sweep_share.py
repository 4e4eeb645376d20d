"""bench.sweep_share: the trials' combined training speed against one process alone."""
import json

from bench.sweep import share as sweep_share


def trial(name, data, compute, status="FINISHED"):
    return {"name": name, "status": status,
            "metrics": {"time/data": data, "time/compute": compute}}


def test_combined_speed_against_one_process(tmp_path, capsys):
    summary = {"trials": [trial("a|s0", 0.0, 0.5), trial("b|s0", 0.1, 0.4),
                          trial("c|s0", 0.0, 1.0, status="FAILED")]}
    profile = {"results": [{"steps_per_s": 2.5, "precision": "fp32"}]}
    result = sweep_share.share(summary, profile)
    assert [t["name"] for t in result["trials"]] == ["a|s0", "b|s0"]  # the failed one: out
    assert result["combined_steps_per_s"] == 4.0 and result["ratio"] == 4.0 / 2.5
    (tmp_path / "s.json").write_text(json.dumps(summary))
    (tmp_path / "p.json").write_text(json.dumps(profile))
    assert sweep_share.main([str(tmp_path / "s.json"), str(tmp_path / "p.json"),
                             "--json", str(tmp_path / "out.json")]) == 0
    assert "2 trials together: 4.00 steps/s" in capsys.readouterr().out
    assert json.loads((tmp_path / "out.json").read_text())["ratio"] == 1.6


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "empty.json").write_text(json.dumps({"trials": []}))
    (tmp_path / "p.json").write_text(json.dumps({"results": [{"steps_per_s": 1.0}]}))
    assert sweep_share.main([str(tmp_path / "empty.json"), str(tmp_path / "p.json")]) == 2
    assert sweep_share.main([str(tmp_path / "missing.json"), str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
