"""The steganography objective (`task=stego`): concealing + revealing + latent terms.

The config keys of the rescaling objective (irn.objective), mapped to the stego network's
images (irn/stego.py); terms keep the rescaling names, so curves and weights line up:

  guide (concealing) = w_c * loss_guide(stego, cover) * 3HW / N ...... the stego looks like
                       the cover; w_c = lambda_guide, and lambda_guide = None means 1 here
  recon (revealing)  = lambda_recon * loss_recon(secret', secret) * 3hw / N ...... secret'
                       from the reverse pass of the 8-bit (optionally JPEG-degraded) stego
                       with z drawn as z_train (gaussian x temperature, or zero)
  distr (latent)     = lambda_distr * sum(z^2) / N ...... the lost information z ~ N(0, 1)
  recon_clean        = jpeg_clean_weight x the revealing term from the clean 8-bit stego
                       (only with jpeg_train != off)

Why lambda_guide = None is 1, not IRN's scale^2: IRN's s^2 makes an LR-sized guide sum count
like the HR-sized reconstruction sum; here the guide already runs over the HR-sized stego
image, and 1 is HiNet's weight for the same term (Jing et al., ICCV 2021: concealing weight
lambda_c; its released config.py has lamda_guide = 1, lamda_reconstruction = 5 for a
full-size secret). "* 3HW"
etc.: every loss in irn.losses is a per-element mean, so this is a sum over pixels, mean over
the batch, as IRN's. A weight of 0 drops its term. The secret is the next image's 8-bit
bicubic LR (irn.stego.next_in_batch): batch_size >= 2.
"""

from irn.config import Config
from irn.jpeg import apply_jpeg, parse_quality
from irn.objective import Objective, no_phase
from irn.quantization import quantize
from irn.stego import next_in_batch


def conceal_weight(cfg: Config) -> float:
    """The concealing term's weight: lambda_guide, with None = 1 (see the module doc)."""
    return 1.0 if cfg.lambda_guide is None else cfg.lambda_guide


class StegoObjective(Objective):
    """Called like irn.objective.Objective, whose loss modules and z draw it shares:
    (total, {term: value}) for one batch of covers `hr` whose bicubic LRs `lr_ref` give the
    secrets. (The stego task refuses dequantization and temporal terms: irn.stego.)"""

    def forward(self, model, hr, lr_ref, generator=None, jpeg_generator=None, phase=None,
                motion_generator=None):
        """`phase(name)`: Trainer.train_step's timing hook around the forward and the reverse
        pass; `motion_generator` is not used (no temporal term)."""
        phase, cfg = phase or no_phase, self.cfg
        secret = quantize(next_in_batch(lr_ref))
        terms = {}
        with phase("forward"):
            (stego, z), _ = model(hr, secret, jac=False)
            if conceal_weight(cfg):
                terms["guide"] = conceal_weight(cfg) * self.guide(stego, hr) * hr[0].numel()
            if cfg.lambda_distr:
                terms["distr"] = cfg.lambda_distr * z.square().sum() / z.shape[0]
        with phase("reverse"):
            if cfg.lambda_recon:
                terms.update(self._reveal_terms(model, quantize(stego), z.shape, secret,
                                                generator, jpeg_generator))
            total = sum(terms.values())
        return total, terms

    def _reveal_terms(self, model, stego_q, z_shape, secret, generator, jpeg_generator):
        cfg = self.cfg
        inputs = [("recon", stego_q, 1.0)]
        if cfg.jpeg_train != "off":
            seen = apply_jpeg(stego_q, cfg.jpeg_train, parse_quality(cfg.jpeg_quality),
                              jpeg_generator)
            inputs = [("recon", seen, 1.0)]
            if cfg.jpeg_clean_weight:
                inputs.append(("recon_clean", stego_q, cfg.jpeg_clean_weight))
        z = self.draw_z(z_shape, stego_q, generator)
        terms = {}
        for name, stego_in, weight in inputs:
            (_, revealed), _ = model(stego_in.to(z.dtype), z, rev=True, jac=False)
            terms[name] = (weight * cfg.lambda_recon * self.recon(revealed, secret)
                           * secret[0].numel())
        return terms

    def image_metrics(self, model, hr, seed: int) -> dict:
        """Nothing beyond irn.stego_eval's rows (Trainer.evaluate_images' hook)."""
        return {}
