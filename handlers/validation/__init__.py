"""The validation feature."""
