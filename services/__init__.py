"""The console's domain operations, shared by the HTTP API, the web console and the seed command.

Each function takes the session first, checks the caller's rights and the org's state, writes
through `store/` repositories and leaves an audit event; none commits (the caller's request
scope commits or rolls back), so an operation is one transaction whoever calls it. Operations
that hand work to a durable workflow do so through `clients/`.
"""
