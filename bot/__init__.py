"""The engine: runtime, intake, store, dispatch, github, codegen. It never imports the features (handlers/)."""
