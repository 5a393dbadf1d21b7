"""The deletion-request service (issue 14): a ledger of deployments, deletion requests, model
versions and a hash-chained audit log (``ledger.py``, ``audit.py``); an HTTP API that
acknowledges a request only after it is committed (``api.py``); and a worker that claims
jobs under a lease, honours them with the deployment's policy and promotes a new model
version atomically (``worker.py``, ``exact.py``).

Nothing here imports torch except the worker's policy and ``deploy.py``: the API server
starts in a fraction of a second.
"""
