from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.adapters.httpfake import FakeHTTP, serve


@pytest.fixture
def http() -> Iterator[FakeHTTP]:
    yield from serve()
