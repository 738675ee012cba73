"""Talking to remote servers: shared by remote sources and destinations."""
