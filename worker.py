"""Worker (to be built)."""
