"""The API's own description, public: ``/swagger`` (Swagger UI) and ``/swagger?format=json`` (OpenAPI).

Both are files generated from every function's routes by ``describe.py`` (``make openapi``), so this
function imports nothing of the others, nor Powertools' OpenAPI machinery: it reads the document, and
fills the Swagger UI page with it and with the Swagger UI assets that Powertools ships in the layer.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@cache
def openapi_json() -> str:
    return (HERE / "openapi.json").read_text(encoding="utf-8")


@cache
def swagger_page() -> str:
    spec = importlib.util.find_spec("aws_lambda_powertools")  # finds the package without importing it
    assert spec is not None and spec.origin is not None, "the Common layer provides aws_lambda_powertools"
    assets = Path(spec.origin).parent / "event_handler" / "openapi" / "swagger_ui"
    page = (HERE / "swagger.html").read_text(encoding="utf-8")
    # Inside <script>, "</" would end the script early; JSON allows the escaped form.
    return (page.replace("@@OPENAPI_JSON@@", openapi_json().replace("</", "<\\/"))
            .replace("@@SWAGGER_UI_CSS@@", (assets / "swagger-ui.min.css").read_text(encoding="utf-8"))
            .replace("@@SWAGGER_UI_JS@@", (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    if query.get("format") == "json":
        body, content_type = openapi_json(), "application/json"
    else:
        body, content_type = swagger_page(), "text/html; charset=utf-8"
    return {"statusCode": 200, "headers": {"Content-Type": content_type, "Cache-Control": "no-cache"},
            "body": body, "isBase64Encoded": False}
