"""`python -m bench.memory`: the command in bench/speed/memory.py."""
import sys

from bench.speed.memory import main

if __name__ == "__main__":
    sys.exit(main())
