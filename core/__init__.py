"""The base layer: settings, key format, expiry and card rules, redaction, logs, tracing and
Temporal connection helpers. It imports nothing of the project, so every other layer may use it."""
