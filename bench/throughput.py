"""`python -m bench.throughput`: the command in bench/speed/throughput.py."""
import sys

from bench.speed.throughput import main

if __name__ == "__main__":
    sys.exit(main())
