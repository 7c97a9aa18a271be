"""Handlers of tokens."""
