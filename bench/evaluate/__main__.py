"""`python -m bench.evaluate`: see command.py."""
import sys

from bench.evaluate.command import main

sys.exit(main())
