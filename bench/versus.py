"""`python -m bench.versus`: the command in bench/sweep/versus.py."""
import sys

from bench.sweep.versus import main

if __name__ == "__main__":
    sys.exit(main())
