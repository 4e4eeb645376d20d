"""`python -m bench.analyze`: what a trained network learned (irn.analysis), as a report
and logged to the model's MLflow run (command.py).
"""
