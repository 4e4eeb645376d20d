"""`python -m bench.sync`: the command in bench/sweep/sync.py."""
import sys

from bench.sweep.sync import main

if __name__ == "__main__":
    sys.exit(main())
