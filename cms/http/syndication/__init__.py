"""Handlers of the change feed and webhook subscriptions."""
