"""Event handlers (one gidgethub Router per module, merged in handlers/routes.py) and their decisions."""
