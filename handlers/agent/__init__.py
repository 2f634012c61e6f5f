"""The agent feature."""
