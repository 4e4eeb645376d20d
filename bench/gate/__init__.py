"""The CI gate: `python -m bench.gate` measures BASE and HEAD on this machine: the science
gate (science.py, tools/science_probe.py), instruction counts (tools/callgrind_driver.py)
and wall time (regress.py). command.py holds the orchestration.
"""
