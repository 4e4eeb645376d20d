"""`python -m bench.conv_speed`: the command in bench/speed/conv_speed.py."""
import sys

from bench.speed.conv_speed import main

if __name__ == "__main__":
    sys.exit(main())
