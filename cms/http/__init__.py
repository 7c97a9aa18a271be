"""HTTP: the Litestar handlers, grouped by the capability they serve, and what every
route shares.
"""
