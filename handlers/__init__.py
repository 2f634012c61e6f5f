"""The features, one package each (commands, agent, validation, merge, installation).

Each package holds its triggers (a gidgethub Router, merged by entrypoints/app.py), its service (effects),
its pure decisions and its texts. docs/ARCHITECTURE.md draws how a delivery reaches them.
"""
