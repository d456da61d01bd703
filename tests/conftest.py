"""Fixtures shared by the WebUI tests."""

from __future__ import annotations

import pytest

from tests.webui_stub import install_host, shape_params


@pytest.fixture(params=shape_params())
def host(request, monkeypatch):
    """A stub WebUI of each host shape, with the extension loaded and the UI started."""
    return install_host(monkeypatch, request.param)
