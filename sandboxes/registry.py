"""The sandboxes, by the name of the vendor each stands in for.

A vendor's sandbox is the module `sandboxes/<vendor name>.py` (or a package of that name),
whose `SANDBOX` is its app class: adding a sandbox adds no line anywhere else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandboxes.server import SandboxApp

SANDBOX_ATTRIBUTE = "SANDBOX"


def sandbox_for(vendor: str) -> type[SandboxApp]:
    """The sandbox app class standing in for `vendor` (a registered vendor's name)."""
    try:
        module = importlib.import_module(f"{__package__}.{vendor}")
    except ModuleNotFoundError as missing:
        if missing.name != f"{__package__}.{vendor}":
            raise
        raise LookupError(f"{vendor}: no sandbox (expected the module {__package__}/{vendor}.py)") from None
    try:
        return getattr(module, SANDBOX_ATTRIBUTE)
    except AttributeError:
        raise LookupError(f"{vendor}: {module.__name__} has no {SANDBOX_ATTRIBUTE}") from None
