"""Handlers of public and editors' reads: entries, lists, search, links, feeds."""
