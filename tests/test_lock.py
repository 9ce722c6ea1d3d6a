"""requirements.lock installs on its own: it pins every distribution Turnout needs, all the way down."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"
PROJECT = "turnout"
EXTRAS = ("dev",)


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pinned() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_normalised(name)] = version
    return pins


def _needed(name: str, extras: tuple[str, ...] = ()) -> set[str]:
    """The distribution and everything it requires on this interpreter, with the extras asked for."""
    needed: set[str] = set()
    waiting = [(name, extras)]
    while waiting:
        current, wanted = waiting.pop()
        distribution = metadata.distribution(current)
        for text in distribution.requires or ():
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            key = _normalised(requirement.name)
            if key not in needed:
                needed.add(key)
                waiting.append((requirement.name, tuple(requirement.extras)))
    return needed


def test_the_lock_pins_every_distribution_the_project_and_its_dev_tools_need():
    missing = sorted(_needed(PROJECT, EXTRAS) - set(_pinned()))
    assert not missing, f"requirements.lock does not pin {', '.join(missing)}"


def test_the_lock_pins_what_this_environment_runs():
    pins = _pinned()
    differing = sorted(
        f"{name}: locked {pins[name]}, installed {metadata.version(name)}"
        for name in _needed(PROJECT, EXTRAS) if name in pins and metadata.version(name) != pins[name]
    )
    assert not differing, differing
