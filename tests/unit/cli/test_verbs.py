"""The `storegw` verbs: one module per verb, named after it; exactly the documented verbs, even without any extra."""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys

import pytest

from gateway.cli.errors import CliError
from gateway.cli.main import VERB_MODULES, build_parser, run_verb
from tests.support.paths import REPO_ROOT

DOCUMENTED_VERBS = {"run", "demo", "config", "status", "tail", "top", "outbox", "doctor", "sim", "rfid", "vision",
                    "camera", "ble", "verify", "fleet", "audit"}
"""The verbs README.md documents (its technician's table and the demo/daemon sections)."""

EXTRA_MODULES = ("sllurp", "epcpy", "bleak", "numpy", "cv2", "onnxruntime", "amqtt")
"""Every top-level module an optional extra provides; the base install has none of them."""

# Runs `storegw ARGS...` with every extra's modules unimportable, as in a base install.
WITHOUT_EXTRAS = f"""
import importlib.abc
import sys

BLOCKED = {set(EXTRA_MODULES)!r}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Blocker())
from gateway.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def verbs_of(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    """The top-level verbs of ``parser``, each with its help line."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: choice.help for choice in action._choices_actions}


def without_extras(*args: str) -> subprocess.CompletedProcess[str]:
    """`storegw ARGS...` in a subprocess where no extra's module can be imported."""
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS, *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO_ROOT)


@pytest.mark.parametrize("module_name", VERB_MODULES)
def test_each_verb_module_imports_and_registers_the_one_verb_it_is_named_after(module_name: str) -> None:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers(dest="verb"))
    verbs = verbs_of(parser)
    assert list(verbs) == [module_name.rsplit(".", 1)[1]]
    assert all(verbs.values()), f"{module_name}: a verb without a help line"


def test_the_parser_has_exactly_the_verbs_the_readme_documents() -> None:
    documented = set(re.findall(r"`storegw ([a-z][a-z-]*)", (REPO_ROOT / "README.md").read_text()))
    assert documented == DOCUMENTED_VERBS
    assert set(verbs_of(build_parser())) == DOCUMENTED_VERBS
    assert len(VERB_MODULES) == len(DOCUMENTED_VERBS)


def test_a_missing_extra_module_becomes_one_sentence_naming_the_extra() -> None:
    def needs_cv2(args: argparse.Namespace) -> int:
        """A verb whose heavy import fails."""
        raise ModuleNotFoundError("No module named 'cv2.dnn'", name="cv2.dnn")

    with pytest.raises(CliError) as caught:
        run_verb(argparse.Namespace(verb="vision", func=needs_cv2))
    assert str(caught.value) == ("`storegw vision` needs the vision extra: install storegw[vision] "
                                 "(missing module: cv2)")
    assert caught.value.code == 1


def test_any_other_missing_module_is_still_a_bug_with_its_traceback() -> None:
    def needs_yaml(args: argparse.Namespace) -> int:
        """A verb broken by a module no extra provides."""
        raise ModuleNotFoundError("No module named 'yaml'", name="yaml")

    with pytest.raises(ModuleNotFoundError):
        run_verb(argparse.Namespace(verb="config", func=needs_yaml))


def test_without_any_extra_help_still_lists_every_verb() -> None:
    done = without_extras("--help")
    assert done.returncode == 0, done.stderr
    listed = set(re.findall(r"^    ([a-z]+) ", done.stdout, re.MULTILINE))
    assert listed == DOCUMENTED_VERBS


@pytest.mark.parametrize(("args", "sentence"), [
    (("vision", "count", "clip.mp4", "--line", "0,0,1,1", "--inside", "0,1"),
     "`storegw vision` needs the vision extra: install storegw[vision] (missing module: cv2)"),
    (("rfid", "inventory", "--reader", "127.0.0.1:1", "--duration", "1"),
     "`storegw rfid` needs the rfid extra: install storegw[rfid] (missing modules: sllurp, epcpy)"),
    (("ble", "scan", "--seconds", "1"),
     "`storegw ble` needs the ble extra: install storegw[ble] (missing module: bleak)"),
    (("ble", "replay", "scene.jsonl"),
     "`storegw ble` needs the ble extra: install storegw[ble] (missing module: bleak)"),
])
def test_without_its_extra_a_verb_says_what_to_install(args: tuple[str, ...], sentence: str) -> None:
    done = without_extras(*args)
    assert done.returncode == 1
    assert done.stderr == f"storegw: {sentence}\n"
