"""/docs and /redoc load their assets from the service (no CDN), and serving them shows no path
of the server's (the browser test, tests/dashboard/test_api_docs_offline.py, renders them offline)."""
from __future__ import annotations

import re

from .conftest import REPO


def test_docs_pages_load_their_assets_from_the_service(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
        assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), (page, assets)
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200 and response.content, (page, asset)
        assert str(REPO) not in html and "site-packages" not in html


def test_the_asset_folder_serves_nothing_else(client):
    assert client.get("/static-offline-docs/redoc.standalone.js").status_code == 200
    for path in ("/static-offline-docs/../core.py", "/static-offline-docs/%2e%2e/core.py",
                 "/static-offline-docs/..%2fcore.py", "/static-offline-docs/", "/static-offline-docs/nope.js"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "site-packages" not in response.text and str(REPO) not in response.text
