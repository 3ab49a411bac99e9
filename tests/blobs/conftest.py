"""Fixtures of the media tests: SeaweedFS for the S3 store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.blobs.seaweed import start_seaweed


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The S3 endpoint of a SeaweedFS started for this test session."""
    yield from start_seaweed(tmp_path_factory.mktemp("seaweed"))
