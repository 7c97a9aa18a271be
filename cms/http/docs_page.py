"""The API docs page at ``/schema``: Swagger UI on the app's OpenAPI document, all from this origin.

The page holds no inline script or style, so that its Content-Security-Policy
(:data:`cms.http.security_headers.DOCS_POLICY`) can run scripts of its own
origin only: Swagger UI's files and ours (:data:`DOCS_PAGE_ASSETS`, served
beside them) are loaded by URL, and ``docs-page.js`` starts Swagger UI on the
document whose URL the page names in a ``data-`` attribute.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.openapi.plugins import SwaggerRenderPlugin

DOCS_PAGE_ASSETS = Path(__file__).parent / "docs_assets"
"""The page's own script and style sheet, served with Swagger UI's files."""


class DocsPage(SwaggerRenderPlugin):
    """Swagger UI's page without inline code.

    Args:
        assets: the URL path Swagger UI's files and :data:`DOCS_PAGE_ASSETS` are served at.
        path: where the page is, under the OpenAPI config's own path.
    """

    def __init__(self, *, assets: str, path: str = "/") -> None:
        super().__init__(
            path=path,
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            favicon=f'<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">',
            style=f'<link rel="stylesheet" href="{assets}/docs-page.css">',
        )
        self.assets = assets

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page: the document's URL in ``data-openapi-url``, and no inline code."""
        title = html.escape(str(openapi_schema["info"]["title"]))
        document = html.escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{self.favicon}
<link rel="stylesheet" href="{self.css_url}">
{self.style}
<script src="{self.js_url}"></script>
</head>
<body>
<div id="swagger-container" data-openapi-url="{document}"></div>
<script src="{self.assets}/docs-page.js"></script>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        """Add no route: Swagger UI's OAuth2 redirect page is for OAuth flows, which
        the API has none of, and its inline script would be refused here."""
