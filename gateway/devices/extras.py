"""Which optional extra a device kind needs, and whether it is installed.

Each kind declares ``NEEDS = Needs(extra=..., modules=(...))`` in ``gateway/devices/<kind>/needs.py``.
Whether those modules are there is asked of ``importlib.util.find_spec``, so nothing heavy is
imported just to find out; the answer is one sentence that says what to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Needs:
    """What a device kind needs beyond the base install: an extra and the top-level modules it provides."""

    extra: str | None = None
    """The name in ``pip install storegw[EXTRA]``; None for kinds the base install covers."""
    modules: tuple[str, ...] = ()
    """Importable top-level modules the extra provides, e.g. ("sllurp", "epcpy")."""


@dataclass(frozen=True)
class MissingExtra:
    """An extra a device kind needs and the modules of it that cannot be found."""

    kind: str
    extra: str
    modules: tuple[str, ...]

    @property
    def install(self) -> str:
        """What to install, as a person types it."""
        return f"storegw[{self.extra}]"

    def sentence(self, device_id: str) -> str:
        """One sentence for config check, doctor, logs, health and status."""
        noun = "module" if len(self.modules) == 1 else "modules"
        return (f'device "{device_id}" ({self.kind}) needs the {self.extra} extra: install {self.install} '
                f"(missing {noun}: {', '.join(self.modules)})")


def missing_modules(modules: Iterable[str]) -> tuple[str, ...]:
    """Those of ``modules`` that cannot be found; looked up with find_spec, never imported."""
    missing = []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # a parent package that is missing or broken
            spec = None
        if spec is None:
            missing.append(name)
    return tuple(missing)


def needs_of(kind: str) -> Needs:
    """The declaration in ``gateway/devices/<kind>/needs.py``."""
    module = importlib.import_module(f"gateway.devices.{kind}.needs")
    needs: Needs = module.NEEDS
    return needs


def missing_extra(kind: str) -> MissingExtra | None:
    """What is missing for ``kind`` to run, or None when everything it needs is installed."""
    needs = needs_of(kind)
    if needs.extra is None:
        return None
    missing = missing_modules(needs.modules)
    return MissingExtra(kind, needs.extra, missing) if missing else None


def missing_extra_sentence(device_id: str, kind: str) -> str | None:
    """The sentence saying what device ``device_id`` of ``kind`` lacks, or None when nothing is missing."""
    missing = missing_extra(kind)
    return missing.sentence(device_id) if missing else None


def extra_import_error(kind: str, exc: ModuleNotFoundError) -> MissingExtra | None:
    """If ``exc`` is about a module ``kind``'s extra provides, that missing extra; else None."""
    needs = needs_of(kind)
    top = (exc.name or "").split(".", 1)[0]
    if needs.extra is None or top not in needs.modules:
        return None
    return MissingExtra(kind, needs.extra, (top,))
