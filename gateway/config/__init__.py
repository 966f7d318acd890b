"""Configuration: TOML in, typed and validated objects out."""

from gateway.config.load import ConfigError, Problem, load_config, parse_config, read_secret, resolve_path
from gateway.config.model import Config

__all__ = ["Config", "ConfigError", "Problem", "load_config", "parse_config", "read_secret", "resolve_path"]
