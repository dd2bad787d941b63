"""The HTTP API: the app factory, credentials, problems, metrics and one router per family."""
