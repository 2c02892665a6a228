"""finsent built-in backend: mock (being written)."""
