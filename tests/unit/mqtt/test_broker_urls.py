"""`mqtt.urls`, the failover list: parsed into the link's endpoints, or refused with file:line: key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, parse_config
from gateway.mqtt.settings import Endpoint, link_settings

HEAD = '[gateway]\nstore_id = "s"\ngateway_id = "g"\ndata_dir = "/tmp/storegw-urls"\n[mqtt]\n'
"""Five lines: the [mqtt] keys start at line 6."""


def problems_of(mqtt: str) -> list[str]:
    """Every problem parse_config reports for a config whose [mqtt] table is ``mqtt``."""
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD + mqtt, "store.toml")
    return [str(p) for p in info.value.problems]


def test_urls_become_the_endpoints_in_order_with_their_own_scheme_and_port(tmp_path: Path) -> None:
    """The first url is the link's host; the rest are its failover list, each with its own TLS flag."""
    config = parse_config(HEAD + 'urls = ["mqtt://a.example", "mqtts://b.example:8884", "mqtt://10.0.0.3:1999"]\n'
                          "startup_delay_max_s = 12\n")
    settings = link_settings(config, str(tmp_path / "c.toml"), boot=1)
    assert settings.endpoints() == (Endpoint("a.example", 1883, False), Endpoint("b.example", 8884, True),
                                    Endpoint("10.0.0.3", 1999, False))
    assert (settings.host, settings.port, settings.tls) == ("a.example", 1883, False)
    assert settings.startup_delay_max_s == 12
    assert str(settings.endpoints()[1]) == "b.example:8884"


def test_url_alone_still_works_and_the_delay_has_a_default(tmp_path: Path) -> None:
    """A config written before urls existed keeps working: one endpoint, the default spread of 5 s."""
    settings = link_settings(parse_config(HEAD + 'url = "mqtt://h:1884"\n'), str(tmp_path / "c.toml"), boot=1)
    assert settings.endpoints() == (Endpoint("h", 1884, False),)
    assert settings.startup_delay_max_s == 5.0


def test_url_and_urls_together_are_refused_at_the_urls_line() -> None:
    """Both set: which one would win is not obvious, so neither does."""
    problems = problems_of('url = "mqtt://a"\nurls = ["mqtt://b"]\n')
    assert len(problems) == 1
    assert problems[0].startswith("store.toml:7: mqtt.urls: set url or urls, not both")


def test_neither_url_nor_urls_is_a_missing_key() -> None:
    """Without a broker the gateway cannot work: say which keys can name one."""
    problems = problems_of('topic_prefix = "x"\n')
    assert len(problems) == 1
    assert problems[0].startswith("store.toml:5: mqtt.url: required key is missing") and "urls" in problems[0]


def test_an_empty_urls_list_is_no_broker_either() -> None:
    """urls = [] names no broker."""
    assert "required key is missing" in problems_of("urls = []\n")[0]


@pytest.mark.parametrize(("url", "says"), [
    ("mqtt://h:99999", "Port out of range"),
    ("mqtt://:1883", "names no host"),
    ("mqtt://user:pw@h", "set username and password_file"),
])
def test_every_url_of_the_list_is_checked_like_url(url: str, says: str) -> None:
    """The second entry is wrong: the problem names it by index, at the urls line."""
    problems = problems_of(f'urls = ["mqtt://good", "{url}"]\n')
    assert len(problems) == 1 and problems[0].startswith("store.toml:6: mqtt.urls[1]: ") and says in problems[0]
    assert "pw" not in problems[0]


def test_a_url_that_is_not_mqtt_is_refused_by_the_schema() -> None:
    """The pattern of url applies to every entry."""
    problems = problems_of('urls = ["mqtt://good", "http://web"]\n')
    assert len(problems) == 1 and problems[0].startswith("store.toml:6: mqtt.urls[1]: ")


def test_a_broker_listed_twice_is_refused() -> None:
    """The same broker twice would only make a round longer."""
    problems = problems_of('urls = ["mqtt://a", "mqtt://b", "mqtt://a"]\n')
    assert len(problems) == 1 and problems[0].startswith("store.toml:6: mqtt.urls[2]: ") and "twice" in problems[0]


def test_tls_files_with_a_clear_text_entry_are_refused(tmp_path: Path) -> None:
    """TLS files say the broker link is encrypted; an mqtt:// entry would quietly not be."""
    problems = problems_of(f'urls = ["mqtts://a", "mqtt://b"]\nca_file = "{tmp_path}/missing.pem"\n')
    assert any(p.startswith("store.toml:6: mqtt.urls[1]: TLS files are set") for p in problems)


@pytest.mark.parametrize("delay", ["-1", "3601"])
def test_the_startup_delay_is_bounded(delay: str) -> None:
    """A negative spread means nothing; more than an hour is a typo."""
    problems = problems_of(f'url = "mqtt://a"\nstartup_delay_max_s = {delay}\n')
    assert len(problems) == 1 and problems[0].startswith("store.toml:7: mqtt.startup_delay_max_s: ")
