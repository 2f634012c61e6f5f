"""The merge feature."""
