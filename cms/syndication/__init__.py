"""Syndication: what other systems follow (the change feed, cache keys and the content
generation, webhooks, sync).
"""
