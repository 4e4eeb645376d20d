"""`python -m bench.results`: the command in bench/sweep/results.py."""
import sys

from bench.sweep.results import main

if __name__ == "__main__":
    sys.exit(main())
