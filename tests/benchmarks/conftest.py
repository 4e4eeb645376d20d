"""Every benchmark runs torch on one thread: a fixed thread count makes the ratios to the
reference workload comparable between runs, and a single thread is far less disturbed by
a noisy neighbour on a shared 2-core runner than two threads that must meet at every op."""
import torch

torch.set_num_threads(1)
