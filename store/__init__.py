"""The relational store: models, the org-ownership registry, engines and sessions, migrations."""
