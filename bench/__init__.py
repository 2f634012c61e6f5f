"""Benchmarks (figures, not pass/fail). Run each as `.venv/bin/python bench/<name>.py`."""
