"""Org Lifecycle Engine: settings, key format and the `lifecycle` command line."""
