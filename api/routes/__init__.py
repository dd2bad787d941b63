"""One router module per family of endpoints; `api.app` includes them all."""
