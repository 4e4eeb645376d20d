"""`python -m bench.profile`: the command in bench/speed/profile.py."""
import sys

from bench.speed.profile import main

if __name__ == "__main__":
    sys.exit(main())
