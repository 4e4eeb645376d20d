"""`python -m bench.sweep_share`: the command in bench/sweep/share.py."""
import sys

from bench.sweep.share import main

if __name__ == "__main__":
    sys.exit(main())
