"""The harness around irn, one package per product (tests/test_layering.py keeps the order:
common < speed, gate, evaluate < sweep, analyze < the command aliases):

- common/: command-line plumbing, MLflow tracking with its offline outbox, telemetry;
- sweep/: `python -m bench.sweep` and the commands that re-read stored sweeps;
- evaluate/: `python -m bench.evaluate`;
- speed/: profile, throughput, conv_speed, memory;
- gate/: `python -m bench.gate` (science, instruction counts, wall time);
- analyze/: `python -m bench.analyze`.

The modules at this level (profile.py, restat.py, ...) only keep the documented command
names: `python -m bench.profile` runs bench/speed/profile.py.
"""
