"""The trial judge with the clock passed in: commit once healthy long enough, roll back at the deadline."""

from __future__ import annotations

from gateway.remote.trial import Observation, TrialClock, settle_time

UP = Observation(link_up=True, devices={"door": "connected", "load": "connected"})


def test_commits_once_link_and_devices_have_held_for_the_settle_time() -> None:
    judge = TrialClock(started=100.0, commit_after_s=8.0, watched=frozenset({"door"}))
    assert settle_time(8.0) == 2.0
    assert judge.observe(100.0, Observation(link_up=False)) is None
    assert judge.observe(101.0, UP) is None
    assert judge.observe(102.5, UP) is None
    outcome = judge.observe(103.0, UP)
    assert outcome is not None and outcome.state == "committed"
    assert "1 device(s) connected again" in outcome.reason


def test_a_drop_restarts_the_settle_time() -> None:
    judge = TrialClock(started=0.0, commit_after_s=8.0, watched=frozenset({"door"}))
    assert judge.observe(0.5, UP) is None
    assert judge.observe(2.0, Observation(link_up=True, devices={"door": "reconnecting"})) is None
    assert judge.observe(3.0, UP) is None
    assert judge.observe(4.9, UP) is None
    outcome = judge.observe(5.0, UP)
    assert outcome is not None and outcome.state == "committed"


def test_rolls_back_at_the_deadline_naming_the_device_and_its_error() -> None:
    judge = TrialClock(started=0.0, commit_after_s=3.0, watched=frozenset({"door", "load"}))
    seen = Observation(link_up=True, devices={"door": "failed", "load": "connected"},
                       errors={"door": "could not open port rtsp://u:secret@cam/x"})
    assert judge.observe(1.0, seen) is None
    outcome = judge.observe(3.0, seen)
    assert outcome is not None and outcome.state == "rolled_back"
    assert "device door is failed" in outcome.reason and "load" not in outcome.reason
    assert "secret" not in outcome.reason  # errors are redacted before they leave the box


def test_rolls_back_when_the_link_never_comes_up() -> None:
    judge = TrialClock(started=0.0, commit_after_s=3.0, watched=frozenset())
    seen = Observation(link_up=False, link_error="connection refused")
    assert judge.observe(2.9, seen) is None
    outcome = judge.observe(3.0, seen)
    assert outcome is not None and outcome.state == "rolled_back"
    assert "broker link is not up (last error: connection refused)" in outcome.reason


def test_a_device_the_new_config_removed_is_not_waited_for() -> None:
    judge = TrialClock(started=0.0, commit_after_s=4.0, watched=frozenset())
    assert judge.observe(0.0, Observation(link_up=True)) is None
    outcome = judge.observe(1.0, Observation(link_up=True))
    assert outcome is not None and outcome.state == "committed" and "no device to wait for" in outcome.reason
