"""Reading: what public reads are served from (listing, includes, search, links, feeds,
facets).
"""
