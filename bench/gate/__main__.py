"""`python -m bench.gate`: see command.py."""
import sys

from bench.gate.command import main

sys.exit(main())
