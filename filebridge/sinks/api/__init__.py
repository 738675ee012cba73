"""Shop admin-API sinks: one module per shop, sharing ``base`` (options, the change
and result types, the client interface) and ``http`` (retries, rate limits)."""
