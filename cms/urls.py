"""Where the API lives: the path prefix every route is under.

The server's routes, the paths its webhook messages name, and :mod:`cms.client`
all read it from here, so they cannot disagree. It imports nothing.
"""

API = "/api/v1"
"""The API's path under an instance's base URL."""
