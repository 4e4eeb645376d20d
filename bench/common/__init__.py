"""Shared by every bench product: the command-line plumbing (cli), MLflow logging
(tracking, with its offline outbox) and CPU/GPU telemetry. Imports no product package.
"""
