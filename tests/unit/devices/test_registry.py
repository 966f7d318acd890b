"""A device kind is one folder: the config union is the only list, and everything else derives from it.

Runner lookup, needs, doctor checks, demo families, the config error message and the sim verbs
are all checked here against ``gateway.devices.KINDS``, so a kind that is registered but lacks a
part, or a part whose module is misspelt, fails here rather than being skipped at run time.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import pkgutil
import typing

import msgspec
import pytest

import gateway.cli.sim
from gateway.check import OK, Check
from gateway.config import ConfigError, parse_config
from gateway.demo import CAMERA_FAMILY, FAMILIES
from gateway.devices import (
    CONFIG_CLASSES,
    KINDS,
    AnyDeviceConfig,
    OptionalPart,
    config_class,
    has_part,
    load_part,
    load_runner,
    optional_parts,
)
from gateway.devices.base_config import DeviceConfig, kind_of
from gateway.devices.extras import Needs, needs_of
from gateway.devices.synthetic.config import SyntheticConfig
from gateway.doctor import check_device
from tests.support.paths import REPO_ROOT

CONFIG_HEAD = '[gateway]\nstore_id = "s"\ngateway_id = "g"\n[mqtt]\nurl = "mqtt://127.0.0.1"\n\n'


def test_the_registry_is_the_config_union_in_its_order() -> None:
    """KINDS and CONFIG_CLASSES are the union's members, each kind once."""
    assert typing.get_args(AnyDeviceConfig) == CONFIG_CLASSES
    assert tuple(kind_of(cls) for cls in CONFIG_CLASSES) == KINDS
    assert len(set(KINDS)) == len(KINDS)
    assert {"serial_counter", "synthetic", "llrp", "ble", "camera"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_the_kind_property_is_the_tag_a_config_file_selects(kind: str) -> None:
    """`device.kind` is the `kind` value the config union decodes the entry by."""
    cls = config_class(kind)
    assert issubclass(cls, DeviceConfig) and cls.kind is DeviceConfig.kind  # one spelling, never overridden
    schema = msgspec.json.schema(cls)
    assert schema["$defs"][cls.__name__]["properties"]["kind"] == {"enum": [kind]}
    required = [field.name for field in msgspec.structs.fields(cls) if field.required]
    if required == ["id"]:  # the kinds that need nothing else can be decoded right here
        device = msgspec.convert({"kind": kind, "id": "d"}, AnyDeviceConfig)
        assert type(device) is cls and device.kind == kind


def test_an_unknown_kind_is_a_clear_error() -> None:
    """Asking the registry for a kind it does not have names the kinds it has."""
    with pytest.raises(ValueError, match="no device kind 'nope'; known: serial_counter, synthetic, llrp"):
        config_class("nope")
    with pytest.raises(ValueError, match="no device kind"):
        load_runner("nope")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_runner_and_needs(kind: str) -> None:
    """runner.py gives a coroutine function, needs.py a Needs declaration."""
    assert inspect.iscoroutinefunction(load_runner(kind))
    assert isinstance(needs_of(kind), Needs)


@pytest.mark.parametrize("kind", KINDS)
def test_a_kind_has_exactly_the_optional_parts_it_declares_and_they_import(kind: str) -> None:
    """A doctor.py or demo.py exists exactly when the kind's __init__.py declares it, and then it imports."""
    declared = optional_parts(kind)
    assert set(declared) <= set(typing.get_args(OptionalPart)), declared
    for part in typing.get_args(OptionalPart):
        present = importlib.util.find_spec(f"gateway.devices.{kind}.{part}") is not None
        assert present == (part in declared), f"gateway/devices/{kind}/{part}.py and OPTIONAL_PARTS disagree"
        assert has_part(kind, part) == present
    if "doctor" in declared:
        assert callable(load_part(kind, "doctor").check)
    if "demo" in declared:
        demo = load_part(kind, "demo")
        assert isinstance(demo.LABEL, str) and demo.LABEL
        assert callable(demo.wanted) and inspect.iscoroutinefunction(demo.setup)


def test_a_part_a_kind_does_not_declare_is_not_imported() -> None:
    """load_part refuses an undeclared part instead of trying the import."""
    undeclared = [(kind, part) for kind in KINDS for part in typing.get_args(OptionalPart)
                  if not has_part(kind, part)]
    assert undeclared
    for kind, part in undeclared:
        with pytest.raises(ValueError, match=f"has no {part} part"):
            load_part(kind, part)


def test_the_doctor_says_nothing_to_check_for_a_kind_without_a_doctor_part() -> None:
    """A kind without doctor.py gets the generic line, a disabled device another."""
    assert not has_part("synthetic", "doctor")
    assert check_device(SyntheticConfig(id="load")) == Check("device load (synthetic)", OK, "nothing to check")
    assert check_device(SyntheticConfig(id="off", enabled=False)) == Check("device off (synthetic)", OK, "disabled")


def test_the_demo_families_are_the_kinds_with_a_demo_part_in_registry_order() -> None:
    """Counters, RFID, BLE, camera: the order the demo has always started them in (a new kind comes after)."""
    assert [family.kind for family in FAMILIES] == [kind for kind in KINDS if has_part(kind, "demo")]
    assert [family.label for family in FAMILIES][:4] == ["people counters", "RFID reader", "BLE beacons", "camera"]
    assert CAMERA_FAMILY.kind == "camera"


def test_the_config_error_for_a_device_without_a_kind_lists_exactly_the_registry() -> None:
    """The kinds named in the message are the registry's, in its order."""
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG_HEAD + '[[devices]]\nid = "x"\n', "c.toml")
    (problem,) = caught.value.problems
    assert problem.key == "devices[0].kind"
    listed = problem.message.removeprefix("every device needs a kind: ")
    assert listed.replace(" or ", ", ").split(", ") == list(KINDS)


def test_the_config_error_for_an_unknown_kind_names_it_and_lists_the_registry() -> None:
    """A kind that is not registered (a typo) is named, with the kinds there are, on its own line."""
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG_HEAD + '[[devices]]\nid = "x"\nkind = "serial-counter"\n', "c.toml")
    (problem,) = caught.value.problems
    assert problem.key == "devices[0].kind" and problem.line == CONFIG_HEAD.count("\n") + 3
    listed = problem.message.removeprefix("unknown kind 'serial-counter': the kinds are ")
    assert listed.replace(" or ", ", ").split(", ") == list(KINDS)


def test_every_sim_module_is_named_after_a_kind_registered_in_registry_order_and_imports() -> None:
    """Each module in gateway/cli/sim/ is an emulator command: none is skipped, each registers its verb."""
    on_disk = {info.name for info in pkgutil.iter_modules(gateway.cli.sim.__path__)}
    commands = [module.__name__.rsplit(".", 1)[1] for module in gateway.cli.sim.emulator_commands()]
    assert set(commands) == on_disk and {"serial_counter", "llrp", "ble"} <= on_disk
    assert commands == [kind for kind in KINDS if kind in on_disk]
    parser = argparse.ArgumentParser()
    gateway.cli.sim.register(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["sim", "serial-counter", "--seconds", "1"])
    assert args.sim_verb == "serial-counter" and callable(args.func)
    assert parser.parse_args(["sim", "llrp"]).sim_verb == "llrp"
    assert parser.parse_args(["sim", "ble-scene", "--out", "x.jsonl"]).sim_verb == "ble-scene"


def test_a_sim_module_named_after_no_kind_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt emulator file stops the CLI with its name instead of silently vanishing from `storegw sim`."""
    real = pkgutil.iter_modules

    def with_a_typo(path: typing.Any = None, prefix: str = "") -> typing.Any:
        """The folder's modules plus a misspelt one."""
        yield from real(path, prefix)
        yield pkgutil.ModuleInfo(None, "llrpp", False)

    monkeypatch.setattr(pkgutil, "iter_modules", with_a_typo)
    with pytest.raises(RuntimeError, match=r"gateway/cli/sim/llrpp\.py is named after no device kind"):
        gateway.cli.sim.emulator_commands()


def test_the_struct_tag_is_spelt_only_in_base_config() -> None:
    """`device.kind` replaced every `type(x).__struct_config__.tag` outside the base class."""
    spelt = [str(path.relative_to(REPO_ROOT)) for folder in ("gateway", "drivers")
             for path in sorted((REPO_ROOT / folder).rglob("*.py")) if "__struct_config__" in path.read_text()]
    assert spelt == ["gateway/devices/base_config.py"]


def test_a_staff_badge_scanner_must_be_a_ble_device() -> None:
    """A typo in staff.badge_scanner is a config error naming the ble devices, not badges silently off."""
    camera = ('[[devices]]\nid = "door-cam"\nkind = "camera"\nsource = "clip.mp4"\n'
              'lines = [{name = "door", x1 = 0, y1 = 0, x2 = 10, y2 = 10, inside = [5, 9], '
              'staff = {badge_uuid = "0c3f6a0e-8d5b-4c1e-9f4b-5a2d7e9c1b11", badge_scanner = "door-bel"}}]\n')
    scanner = '[[devices]]\nid = "door-ble"\nkind = "ble"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG_HEAD + scanner + camera, "c.toml")
    (problem,) = caught.value.problems
    assert problem.key == "devices[1].lines[0].staff.badge_scanner"
    assert problem.message == "'door-bel' is not the id of a ble device (door-ble)"
    fixed = parse_config(CONFIG_HEAD + scanner + camera.replace("door-bel", "door-ble"), "c.toml")
    assert fixed.devices[1].lines[0].staff.badge_scanner == "door-ble"
