"""A verb that needs an optional extra which is not installed: one sentence saying what to install.

The device kinds' declarations (``gateway/devices/<kind>/needs.py``) are the one list of which
module comes with which extra; the verbs borrow them rather than keep a second list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.cli.errors import CliError

if TYPE_CHECKING:
    from gateway.devices.extras import MissingExtra


def verb_needs_error(verb: str, missing: MissingExtra) -> CliError:
    """The CliError (exit 1) saying that ``storegw VERB`` needs an extra and what to install."""
    noun = "module" if len(missing.modules) == 1 else "modules"
    return CliError(f"`storegw {verb}` needs the {missing.extra} extra: install {missing.install} "
                    f"(missing {noun}: {', '.join(missing.modules)})", 1)


def require_extra_of(verb: str, kind: str) -> None:
    """Raise a CliError before ``verb`` starts when the extra of device ``kind`` is not installed.

    For verbs whose driver retries any failure, so a missing module would only show as a retry reason.
    """
    from gateway.devices.extras import missing_extra

    missing = missing_extra(kind)
    if missing is not None:
        raise verb_needs_error(verb, missing)


def missing_extra_error(verb: str, exc: ModuleNotFoundError) -> CliError | None:
    """If ``exc`` is about a module an extra provides, a CliError naming the extra; else None."""
    from gateway.devices import KINDS
    from gateway.devices.extras import extra_import_error

    for kind in KINDS:
        missing = extra_import_error(kind, exc)
        if missing is not None:
            return verb_needs_error(verb, missing)
    return None
