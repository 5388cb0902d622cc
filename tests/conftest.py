"""Shared fixtures: the real PFOCR sample (copied from ../shared/corpus, CC0) and the seed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "pfocr-sample"
OLDER = DATA / "older-versions"
SEEDS = ROOT / "seeds"
FIGURES = SAMPLE / "_figures"


def require_binary(name: str, why: str) -> str:
    """The path of a binary a test needs; skip with the reason, or fail in CI where it must exist."""
    import shutil

    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed ({why}); scripts/install-system.sh installs it"
        if os.environ.get("RDFEXPORT_REQUIRE_SERVERS"):
            pytest.fail(message)
        pytest.skip(message)
    return path

# Reproducible VoID dates in every test, fixtures of any scope included: 2026-01-01T00:00:00Z.
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")
