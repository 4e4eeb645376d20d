"""`python -m bench.evaluate`: a trained model (checkpoint, MLflow run or sweep) on image
sets, beside bicubic and the published tables (command.py; data, source, run, report,
published).
"""
