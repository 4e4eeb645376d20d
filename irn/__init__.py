"""irn: invertible image rescaling (IRN, ECCV 2020) and its variants, in PyTorch on FrEIA.

Pure PyTorch + FrEIA: this package never imports ray, mlflow, plotly or bench.
"""
# `from irn.imresize import imresize` binds the function over the submodule attribute on
# purpose: `irn.imresize(x, scale)` is the documented entry point.
from irn.imresize import imresize
from irn import metrics
from irn.model import build_model, count_parameters
from irn.official import CheckpointError, load_official
from irn.quantization import quantize

__all__ = ["build_model", "count_parameters", "load_official", "CheckpointError", "quantize",
           "imresize", "metrics"]
