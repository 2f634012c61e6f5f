"""The commands feature."""
