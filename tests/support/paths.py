"""Where things are, for tests that read the repository."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository checkout the tests run from."""
