"""How uvicorn serves the app: the options of `cms serve`, which the tests' servers share.

Two of uvicorn's defaults do not suit an API on the open internet:

- It believes ``X-Forwarded-For`` (and ``X-Forwarded-Proto``) from any peer on
  127.0.0.1, so that any process on the machine, or a proxy that passes the
  header on unchecked, could choose the address the failed-authentication
  limit counts against. Here they are believed only from the peers
  ``CMS_TRUSTED_PROXIES`` names, and from no one when it is empty.
- It names itself in a ``Server`` header on every answer; here there is none.
"""

from __future__ import annotations

from typing import Any

from cms.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` that ``settings`` decide.

    The address of each request (``request.client``) is then the peer's own,
    or, when the peer is a trusted proxy, the first address of
    ``X-Forwarded-For`` that is not itself a trusted proxy, read from the right.
    """
    proxies = settings.trusted_proxies
    # uvicorn takes "*" alone as "every peer"; listed among others it would be a literal.
    allowed: list[str] | str = "*" if "*" in proxies else list(proxies)
    return {
        "server_header": False,
        "proxy_headers": bool(proxies),
        # Never None: uvicorn would fall back to FORWARDED_ALLOW_IPS or 127.0.0.1.
        "forwarded_allow_ips": allowed,
    }
