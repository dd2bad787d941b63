"""The `lifecycle` command line: the dev stack, the worker, migrations, demo data, and the
teardown, key, workflow and schedule commands."""
