"""The installation feature."""
