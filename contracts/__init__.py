"""What crosses Temporal's wire, one module per workflow family: inputs, results, updates,
queries, step names and workflow ids. Plain dataclasses, so the workflow sandbox, the activities,
the clients and the API can all import them."""
