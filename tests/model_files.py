"""A random-weight x2 model (2 blocks, gc 8, weights off the identity) saved in our format
and in the official network's layout, for the tests of commands that take checkpoints."""
import torch

from irn.checkpoint import save_model
from irn.model import build_model
from irn.official import to_official

ARCH = {"scale": 2, "blocks": 2, "gc": 8}


def random_x2_files(folder, official_name: str = "official.pth"):
    """(model in eval mode, folder/ours.pt, folder/official_name)."""
    torch.manual_seed(0)
    model = build_model(**ARCH)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.01)
    ours, official = folder / "ours.pt", folder / official_name
    save_model(ours, model, ARCH)
    torch.save(to_official(model), official)
    return model.eval(), ours, official
