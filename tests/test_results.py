"""RESULTS.md is what the stored summaries in results/ give under this version's statistics
(bench.results), so no result is typed twice and a statistics change shows in the diff."""
from bench.sweep.results import main


def test_results_md_is_generated_from_the_stored_summaries(capsys):
    assert main(["--check"]) == 0, capsys.readouterr().err
