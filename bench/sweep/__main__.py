"""`python -m bench.sweep`: see command.py."""
import sys

from bench.sweep.command import main

sys.exit(main())
