"""``GET /api/v1/plugins``: the loaded plugins, their versions and what each registered."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from cms.http.cache_headers import json_response
from cms.http.json_text import encode_json
from cms.http.problems import error_responses
from cms.plugin_manager import PluginList
from cms.urls import API


@get(
    f"{API}/plugins",
    operation_id="listPlugins",
    summary="List the loaded plugins",
    description="Every plugin this instance loaded (the built-in core types included), "
    "its version and what it registered: hooks, content types, response fields, routes, "
    "Markdown extensions and commands. `cms plugins list --json` prints the same document.",
    tags=["Operations"],
    responses={
        200: ResponseSpec(PluginList, description="The plugins.", generate_examples=False),
        304: ResponseSpec(
            None,
            description="Not modified: the `If-None-Match` ETag is current.",
            generate_examples=False,
        ),
        **error_responses(),
    },
)
async def list_plugins(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    """The report built when the app started; plugins cannot change while it runs."""
    services = state.services
    settings = services.settings
    return json_response(
        request,
        encode_json(services.plugin_report),
        cache_control=f"public, max-age={settings.public_max_age}",
    )
