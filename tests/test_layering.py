"""The layering (README "Layout"): `irn` never imports bench, dashboards, ray, mlflow or
plotly."""
import subprocess
import sys


def test_irn_imports_no_harness_packages():
    code = ("import sys, irn, irn.train, irn.evaluate, irn.metric_registry, irn.crops, "
            "irn.rescale, irn.checkpoint, irn.jpeg, irn.losses, irn.data, irn.config, "
            "irn.analysis, irn.storage\n"
            "bad = [m for m in ('bench', 'dashboards', 'ray', 'mlflow', 'plotly') "
            "if m in sys.modules]\nprint(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
