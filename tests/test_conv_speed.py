"""bench.conv_speed: every precision and layout either measured or said to be skipped."""
import re

import torch

from bench.speed.conv_speed import main
from irn.precision import native_low_precision


def test_every_row_is_a_speed_or_a_stated_skip(capsys):
    threads = torch.get_num_threads()
    try:
        assert main() == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    rows = re.findall(r"^  (fp32|bf16) (NCHW|NHWC): (.*)$", out, re.M)
    assert [r[:2] for r in rows] == [("fp32", "NCHW"), ("fp32", "NHWC"), ("bf16", "NCHW"),
                                     ("bf16", "NHWC")]
    native = native_low_precision("bf16", torch.device("cpu"))
    for dtype, _, value in rows:
        if dtype == "bf16" and not native:
            assert value == "skipped (no native bf16)"
        else:
            assert float(value.removesuffix(" GFLOP/s")) > 0
