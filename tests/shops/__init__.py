"""Loopback test servers that behave like the shops the API sinks talk to."""
