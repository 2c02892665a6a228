"""finsent built-in backend: openai (being written)."""
