"""Shared fixtures of the search-space tests: the shipped spaces, loaded once."""

from __future__ import annotations

import pytest

from snnas.space import load_space, shipped_spaces

SHIPPED = sorted(shipped_spaces())


@pytest.fixture(scope="session", params=SHIPPED)
def shipped(request):
    return load_space(shipped_spaces()[request.param])
