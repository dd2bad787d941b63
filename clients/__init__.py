"""Temporal clients of the workflows: starting, signalling, updating and querying them, and the
schedules. The API, the worker and the command line reach workflows only through here."""
