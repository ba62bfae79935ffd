"""Fixtures: a fake model container and an emulator in front of it, reached by real boto3 clients."""

from collections.abc import Iterator
from typing import Any

import pytest
from fake_container import ENDPOINT, FakeContainer, make_client

from local.emulator import Emulator, Endpoint


@pytest.fixture
def container() -> Iterator[FakeContainer]:
    fake = FakeContainer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def emulator(container: FakeContainer) -> Iterator[Emulator]:
    with Emulator({ENDPOINT: Endpoint(container.url)}, backend_timeout=5.0) as running:
        yield running


@pytest.fixture
def client(emulator: Emulator) -> Any:
    """A client that does not retry, so every error reaches the test."""
    return make_client(emulator.url, retries={"total_max_attempts": 1})
