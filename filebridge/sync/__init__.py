"""A file's records to the shop APIs: ``changes.py`` what changed against what each
shop acknowledged, what goes missing, and the circuit breaker, staged in the ledger's
outbox (filebridge/ledger/changelog.py); ``send.py`` sending what the outbox holds;
``plan.py`` ``filebridge plan``, the same comparison sending nothing. The API sinks
themselves (clients, options) are in filebridge/sinks/api/."""
