"""`python -m bench.simulate`: the command in bench/sweep/simulate.py."""
import sys

from bench.sweep.simulate import main

if __name__ == "__main__":
    sys.exit(main())
