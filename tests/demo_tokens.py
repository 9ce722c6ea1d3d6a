"""`turnout` as `python -m assets.cli` runs it, then what its sandboxes served with and issued.

    python -m tests.demo_tokens REPORT_FILE demo --days 1 --warehouse ...

After the command ends, REPORT_FILE gets a JSON object: ``settings``, the
settings every sandbox gave its client (so a test sees which credentials were
served), and ``tokens``, the EventBookings access tokens issued, which a leak
scan looks for too: the sandbox makes them at run time and they exist nowhere
else. Nothing else about the command changes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assets import cli
from sandboxes.eventbookings import EventBookingsSandbox
from sandboxes.server import SandboxServer


def main(argv: Sequence[str]) -> int:
    report_file, *command = argv
    servers: list[SandboxServer] = []
    settings: dict[str, str] = {}
    cli._start_sandboxes = _recording(cli._start_sandboxes, servers, settings)
    try:
        return cli.main(command)
    finally:
        tokens = [token for server in servers if isinstance(server.app, EventBookingsSandbox)
                  for token in server.app.recent_tokens]
        Path(report_file).write_text(json.dumps({"settings": settings, "tokens": tokens}))


def _recording(
    start: Callable[..., list[SandboxServer]], servers: list[SandboxServer], settings: dict[str, str]
) -> Callable[..., Any]:
    def start_and_keep(*args: Any, **kwargs: Any) -> list[SandboxServer]:
        started = start(*args, **kwargs)
        servers.extend(started)
        for server in started:  # while serving: a stopped server has no address
            settings.update(server.app.settings(server.base_url))
        return started

    return start_and_keep


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
