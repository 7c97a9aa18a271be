"""Editorial: the one save pipeline and everything a write goes through (workflow,
revisions, preview, slugs, content files).
"""
