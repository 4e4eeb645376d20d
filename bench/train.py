"""`python -m bench.train`: the command in bench/sweep/train.py."""
import sys

from bench.sweep.train import main

if __name__ == "__main__":
    sys.exit(main())
