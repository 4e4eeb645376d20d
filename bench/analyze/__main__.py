"""`python -m bench.analyze`: see command.py."""
import sys

from bench.analyze.command import main

sys.exit(main())
