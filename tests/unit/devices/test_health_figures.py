"""Device figures: every one the code reports is declared in DeviceHealth, and an undeclared one costs
only itself, never the health event of every device."""

from __future__ import annotations

import ast
import logging

import pytest

from gateway.supervisor import DEVICE_FIGURES, declared_figures
from tests.support.paths import REPO_ROOT


def figures_set_in_code() -> dict[str, str]:
    """Figure name -> where it is set: `.extra.update(name=...)`, `.extra["name"] = ...` in gateway/, drivers/."""
    found: dict[str, str] = {}
    for package in ("gateway", "drivers"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                where = f"{path.relative_to(REPO_ROOT)}:{getattr(node, 'lineno', 0)}"
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update"
                        and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "extra"):
                    found.update({keyword.arg: where for keyword in node.keywords if keyword.arg})
                if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
                        and isinstance(node.value, ast.Attribute) and node.value.attr == "extra"
                        and isinstance(node.slice, ast.Constant)):
                    found[str(node.slice.value)] = where
    return found


def test_every_figure_the_code_reports_is_declared() -> None:
    """A figure a runner or driver sets but DeviceHealth does not declare would never reach health or status."""
    found = figures_set_in_code()
    assert len(found) >= 10  # the walk found the runners' figures
    assert {name: where for name, where in found.items() if name not in DEVICE_FIGURES} == {}


def test_an_undeclared_figure_is_left_out_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """The other figures still go out; the undeclared one is logged once, not at every health report."""
    caplog.set_level(logging.ERROR, logger="storegw.supervisor")
    extra: dict[str, int | float | bool] = {"tags": 3, "queue_depth_for_this_test": 9}
    assert declared_figures("llrp", extra) == {"tags": 3}
    assert declared_figures("llrp", extra) == {"tags": 3}
    said = [r.getMessage() for r in caplog.records if "queue_depth_for_this_test" in r.getMessage()]
    assert len(said) == 1 and "not declared in DeviceHealth" in said[0]
