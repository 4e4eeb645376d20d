"""The layering (README "Layout": irn < dashboards < bench): `irn` never imports bench,
dashboards, ray, mlflow or plotly."""
import subprocess
import sys


def test_irn_imports_no_harness_packages():
    code = ("import sys, irn, irn.train, irn.evaluate, irn.metric_registry, irn.crops, "
            "irn.rescale, irn.checkpoint, irn.jpeg, irn.losses, irn.data, irn.config, "
            "irn.analysis, irn.storage, irn.stats.compare, irn.stats.pooled\n"
            "bad = [m for m in ('bench', 'dashboards', 'ray', 'mlflow', 'plotly') "
            "if m in sys.modules]\nprint(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_dashboards_import_no_bench():
    # the layers run irn < bench < dashboards' caller: bench attaches the report, so the
    # report reads summaries and irn's statistics, never bench
    code = ("import sys, dashboards.build\n"
            "print(','.join(m for m in sys.modules if m == 'bench' or m.startswith('bench.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
