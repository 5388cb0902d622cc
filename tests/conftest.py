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


# --- hypothesis profiles (issue 6): in CI the property tests try at least 2,400 files ---------
from hypothesis import settings as _hypothesis_settings  # noqa: E402 - after the environment is set

_hypothesis_settings.register_profile("ci", max_examples=300, deadline=None, print_blob=True)
_hypothesis_settings.register_profile("dev", max_examples=40, deadline=None)
# CI: $CI (set by CI services) or $RDFEXPORT_REQUIRE_SERVERS (exported by .ci/run).
_IN_CI = os.environ.get("CI") or os.environ.get("RDFEXPORT_REQUIRE_SERVERS")
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _IN_CI else "dev"))

# Files the property tests ran through the library, by kind and outcome; printed at the end.
PROPERTY_EXAMPLES: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter):
    if PROPERTY_EXAMPLES:
        runs = {k: v for k, v in sorted(PROPERTY_EXAMPLES.items()) if ":" in k}
        terminalreporter.write_line(f"property-test files tried: {sum(runs.values())} "
                                    + ", ".join(f"{k}={v}" for k, v in runs.items()))
