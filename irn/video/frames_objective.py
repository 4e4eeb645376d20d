"""The frame tasks' objective (irn/video/frames.py): the predicted frame against the true
one, and the latent's distribution term, with the rescaling objective's names and loss
modules (irn.objective), so weights, curves and the loss registry line up:

  recon = lambda_recon * loss_recon(prediction, true frame) * 3HW / N ...... the forward
          pass's frame n+2 (predict) or n+1 (interpolate) against the true one
  distr = lambda_distr * sum(z^2) / N ...... the lost information z ~ N(0, 1), what lets the
          reverse pass run from a drawn z

Sums over pixels, mean over the batch, as IRN's terms. A batch is N x 9 x P x P (frames n,
n+1, n+2; irn/video/triples.py); the trainer's second tensor is empty and not used.
"""
from irn.objective import Objective, no_phase
from irn.video.frames import net_inputs, split_triple


class FrameObjective(Objective):
    def forward(self, model, hr, lr_ref, generator=None, jpeg_generator=None, phase=None,
                motion_generator=None):
        """(total, {term: value}) for one batch of triples `hr`; `phase(name)` times the
        forward pass (there is no reverse pass in training)."""
        phase, cfg = phase or no_phase, self.cfg
        a, b, target = net_inputs(cfg.task, cfg.frame_layout, *split_triple(hr))
        terms = {}
        with phase("forward"):
            (prediction, z), _ = model(a, b, jac=False)
            if cfg.lambda_recon:
                terms["recon"] = (cfg.lambda_recon * self.recon(prediction, target)
                                  * target[0].numel())
            if cfg.lambda_distr:
                terms["distr"] = cfg.lambda_distr * z.square().sum() / z.shape[0]
        with phase("reverse"):
            total = sum(terms.values())
        return total, terms

    def image_metrics(self, model, hr, seed: int) -> dict:
        """Nothing beyond irn/video/frames_eval.py's rows (Trainer.evaluate_images' hook)."""
        return {}
