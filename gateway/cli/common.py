"""Helpers shared by CLI verbs."""

from __future__ import annotations

import os
import sys

from gateway.cli.errors import CliError
from gateway.config import Config, ConfigError, load_config

DEFAULT_CONFIG = os.environ.get("STOREGW_CONFIG", "/etc/storegw/storegw.toml")


def load_or_exit(path: str) -> Config:
    """Load a config or raise a CliError (exit 2) listing every problem."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems[:-1]:
            print(problem, file=sys.stderr)
        raise CliError(str(exc.problems[-1]) + " (fix the config; `storegw config check` lists all problems)",
                       2) from None


def use_color() -> bool:
    """True when stdout is a terminal that wants colour."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
