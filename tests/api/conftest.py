from pathlib import Path

import pytest

from content.labs import labs_root
from content.load import labs_sync
from labs.models import Lab


def labs_sync_fp8(root: Path) -> Lab:
    """The fp8-e4m3 lab as a row. The whole catalogue when it is consistent; else (someone's lab folder
    is half-written: labs_sync then syncs nothing) fp8-e4m3 alone, since these tests are about the API
    and the CLI, and tests/content checks the catalogue."""
    _, problems = labs_sync(root=labs_root())
    if problems:
        root.mkdir(parents=True, exist_ok=True)
        (root / "fp8-e4m3").symlink_to(labs_root() / "fp8-e4m3")
        _, problems = labs_sync(root=root)
        assert problems == [], problems
    return Lab.objects.get(slug="fp8-e4m3")


@pytest.fixture
def lab(db, tmp_path):
    return labs_sync_fp8(tmp_path / "labs")
