"""finsent built-in backend: local (being written)."""
