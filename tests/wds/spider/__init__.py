"""Spider side of WDS: pure functions and components, no network."""
