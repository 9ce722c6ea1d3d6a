"""What every vendor provides (its source, settings and credentials), and the settings they share."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dlt

from pipelines.urls import EXPECTED_URL, is_http_url, shown_url

if TYPE_CHECKING:
    from dlt.extract.source import DltSource


# Child lists are re-read for events that end no more than this many days ago.
DEFAULT_WINDOW_DAYS_AFTER_END = 30
# Re-read what changed since the last run minus this many days, so late or
# same-day changes are not lost; re-read rows are absorbed by the merge.
DEFAULT_LOOKBACK_DAYS = 1
# Requests in flight per vendor. Reads are bound by the vendor's latency, not by the CPU:
# at 50 ms a request, OPUS's medium extraction took 11.3 s with 16 and 18.8 s with 8.
DEFAULT_MAX_IN_FLIGHT = 16

# Settings that hold a URL: the source's parameters named so. Only these are ever echoed.
URL_SETTING_SUFFIX = "_url"


@dataclass(frozen=True)
class Vendor:
    """One event platform: its dlt source and the settings it needs."""

    name: str
    title: str
    source: Callable[..., DltSource]
    required_settings: tuple[str, ...]
    # The settings that are credentials. A vendor's sandbox takes each as a keyword argument
    # of the same name, so `turnout demo` can serve it with configured values.
    secret_settings: tuple[str, ...] = ()

    @property
    def dataset(self) -> str:
        return f"raw_{self.name}"

    def env_name(self, setting: str) -> str:
        return f"SOURCES__{self.name.upper()}__{setting.upper()}"

    def setting_value(self, setting: str) -> Any:
        """A setting from dlt secrets, config or the environment; None when not set."""
        key = f"sources.{self.name}.{setting}"
        # Secrets first: dlt's run trace records values looked up as plain config.
        value = dlt.secrets.get(key)
        return value if value is not None else dlt.config.get(key)

    def missing_settings(self) -> list[str]:
        """Settings not found in dlt config, secrets or the environment."""
        return [self.env_name(setting) for setting in self.required_settings
                if self.setting_value(setting) is None]

    def unconfigured(self) -> bool:
        """No required setting is set: the vendor is not in use, and a run skips it."""
        return len(self.missing_settings()) == len(self.required_settings)

    def url_settings(self) -> dict[str, str]:
        """Each URL setting the source takes, with the value a run would use (set or default)."""
        urls = {}
        for name, parameter in inspect.signature(self.source).parameters.items():
            if not name.endswith(URL_SETTING_SUFFIX):
                continue
            value = self.setting_value(name)
            if value is None and isinstance(parameter.default, str):
                value = parameter.default
            if value is not None:
                urls[name] = str(value)
        return urls

    def setting_problems(self) -> list[str]:
        """What keeps a run from using this vendor, each naming the setting to fix: a settings file
        that does not parse, values dlt could not use (pipelines.settings), required settings not
        set, and URL settings that are not absolute http(s) URLs."""
        # Imported here: pipelines.settings reads vendors, so it imports this module.
        from pipelines import settings

        broken = settings.file_problems()
        if broken:
            return broken  # no setting can be read
        wrong = settings.value_problems(self)
        problems = [f"{self.title}: {self.env_name(setting)} is not set" for setting in self.required_settings
                    if setting not in wrong and self.setting_value(setting) is None]
        for setting, value in self.url_settings().items():
            if setting not in wrong and not is_http_url(value):
                problems.append(f"{self.title}: {self.env_name(setting)} is not a valid URL "
                                f"({shown_url(value)!r}): {EXPECTED_URL}")
        return [*problems, *wrong.values()]

    def source_for_specs(self) -> DltSource:
        """A source with placeholder settings: enough to describe its tables, never run.

        Every argument is given, so none is read from the settings: a bad one fails the vendor's
        load step (setting_problems), not the definitions of every vendor.
        """
        from pipelines import settings

        return self.source(**settings.describing_arguments(self))


def resolve_as_of(as_of: str | dt.date | None) -> dt.date:
    """The business date of a run: the schedule's date, or today in UTC."""
    if as_of is None or as_of == "":
        return dt.datetime.now(dt.UTC).date()
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    return dt.date.fromisoformat(str(as_of)[:10])


