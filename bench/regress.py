"""`python -m bench.regress`: the command in bench/gate/regress.py."""
import sys

from bench.gate.regress import main

if __name__ == "__main__":
    sys.exit(main())
