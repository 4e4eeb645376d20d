"""`python -m bench.restat`: the command in bench/sweep/restat.py."""
import sys

from bench.sweep.restat import main

if __name__ == "__main__":
    sys.exit(main())
