"""A vendor's settings, read the way dlt reads them and checked before a run requests anything.

The settings a vendor takes are the parameters of its dlt source function, each of the type its
annotation gives. dlt looks a value up in the environment (SOURCES__<VENDOR>__<KEY>), then in
secrets.toml, then in config.toml (the project's `.dlt` folder, found from the working directory,
then dlt's global one), and coerces it to that type only when a run calls the source: a value of
the wrong type, or a file that does not parse, would surface there, deep in a traceback. Here each
becomes one line naming the file or environment variable, the section, the key, the value (never a
secret's) and what is expected.
"""

from __future__ import annotations

import datetime as dt
import difflib
import inspect
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from dlt.common.configuration import get_fun_spec, known_sections, plugins
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException, ValueNotSecretException
from dlt.common.configuration.providers import ConfigProvider, EnvironProvider
from dlt.common.configuration.providers.toml import TomlProviderReadException
from dlt.common.configuration.resolve import resolve_single_provider_value
from dlt.common.configuration.specs.base_configuration import extract_inner_hint, is_secret_hint
from dlt.common.configuration.specs.pluggable_run_context import RunContextBase
from dlt.common.configuration.utils import deserialize_value
from dlt.common.typing import ConfigValueSentinel

from pipelines.urls import shown_url
from pipelines.vendor import URL_SETTING_SUFFIX, Vendor

CONFIG_TOML = "config.toml"
SECRETS_TOML = "secrets.toml"
ENVIRONMENT = EnvironProvider().name
ENV_SEPARATOR = "__"
SOURCES = known_sections.SOURCES
# dlt's own sections, which may sit under [sources] (e.g. [sources.data_writer]): not vendors.
DLT_SECTIONS = frozenset({
    known_sections.DATA_WRITER, known_sections.EXTRACT, known_sections.NORMALIZE, known_sections.LOAD,
    known_sections.SCHEMA, known_sections.DESTINATION,
})
HIDDEN_VALUE = "(a secret: value not shown)"
SHOWN_VALUE_CHARS = 60
# The value a required setting gets when a source is built only to describe its tables.
SPEC_PLACEHOLDER = "configured-at-run-time"
DATE_EXAMPLE = "2025-01-01"
# tomllib's words for the two ways a string is left open, said as what to look for.
TOML_REASONS = {
    "Illegal character '\\n'": "unterminated string (the line ends before its closing quote)",
    "Unterminated string": "unterminated string (the file ends before its closing quote)",
}
TOML_ERROR = re.compile(r"(?P<reason>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)", re.S)
TOML_TABLE = re.compile(r"^\s*\[\s*(?P<path>[^\[\]]+?)\s*\]\s*(#.*)?$")
TOML_KEY = re.compile(r"^\s*(?P<key>[A-Za-z0-9_\-.\"' ]+?)\s*=")
KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
ITEM_KINDS = {int: "integers", float: "numbers", str: "strings"}


class BrokenFile(ValueError):
    """A settings file that cannot be read or parsed; its message is the one line to show."""


@dataclass(frozen=True)
class SettingsFile:
    """A settings file dlt reads: config.toml or secrets.toml, in the project's .dlt folder or dlt's global one."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def shown(self) -> str:
        """The path as given to the user: relative to the working directory where it lies below it."""
        path = self.path if self.path.is_absolute() else Path.cwd() / self.path
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)

    def text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise BrokenFile(f"{self.shown}: not UTF-8 text") from None
        except OSError as exc:
            raise BrokenFile(f"{self.shown}: cannot be read ({exc.strerror or exc})") from None

    def parsed(self) -> dict[str, Any]:
        text = self.text()
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BrokenFile(f"{self.shown}: {_toml_error(text, str(exc))}") from None


@dataclass(frozen=True)
class Setting:
    """One parameter of a vendor's source function."""

    name: str
    hint: Any  # as dlt declares it: a secret's is Annotated
    default: Any  # None where the function gives none

    @property
    def inner_hint(self) -> Any:
        """The type dlt coerces a configured value to."""
        return extract_inner_hint(self.hint, preserve_literal=True)

    @property
    def secret(self) -> bool:
        return is_secret_hint(self.hint)


@dataclass(frozen=True)
class Found:
    """Where dlt finds a setting's value: its provider, the key path and the key as the provider names it."""

    provider: str
    path: tuple[str, ...]
    key: str
    value: Any


def settings_files() -> list[SettingsFile]:
    """The settings files dlt reads that exist, in its order: the project's, then the global ones."""
    context = _run_context()
    found: dict[Path, SettingsFile] = {}
    for folder in (context.settings_dir, context.global_dir):
        for name in (SECRETS_TOML, CONFIG_TOML):
            path = Path(folder, name)
            if path.is_file():
                found.setdefault(path.resolve(), SettingsFile(path))
    return list(found.values())


def file_problems() -> list[str]:
    """One line per settings file that does not parse (file, line, column and why); none when all do."""
    problems = []
    for file in settings_files():
        try:
            file.parsed()
        except BrokenFile as broken:
            problems.append(str(broken))
    if problems:
        return problems
    try:
        # dlt reads the files with a parser of its own (tomlkit): it has the last word.
        _dlt_providers()
    except TomlProviderReadException as exc:
        return [f"{exc.file_name}: {str(exc).strip().splitlines()[-1]}"]
    return []


def problems(vendors: Sequence[Vendor]) -> list[str]:
    """Every setting of `vendors` that dlt could not use, one line each; the files' problems first."""
    broken = file_problems()
    if broken:
        return broken
    providers = _dlt_providers()
    return list(dict.fromkeys(line for vendor in vendors for line in value_problems(vendor, providers).values()))


def vendor_settings(vendor: Vendor) -> list[Setting]:
    """The settings `vendor` takes: its source function's parameters, typed as dlt types them."""
    hints = get_fun_spec(vendor.source).get_resolvable_fields()
    parameters = inspect.signature(vendor.source).parameters
    settings = []
    for name, hint in hints.items():
        default = parameters[name].default if name in parameters else None
        if default is inspect.Parameter.empty or isinstance(default, ConfigValueSentinel):
            default = None
        settings.append(Setting(name, hint, default))
    return settings


def value_problems(vendor: Vendor, providers: Sequence[ConfigProvider] | None = None) -> dict[str, str]:
    """Per setting of `vendor` whose configured value dlt could not use, the line that says so.

    The settings files must parse (see file_problems)."""
    files = _parsed_files()
    providers = _dlt_providers() if providers is None else providers
    problems = {}
    for setting in vendor_settings(vendor):
        try:
            found = _lookup(vendor, setting, providers)
        except ValueNotSecretException as exc:
            where = _where(files, exc.provider_name, tuple(exc.key.split(".")), exc.key)
            problems[setting.name] = (f"{vendor.title}: {where} is a secret: set it in .dlt/{SECRETS_TOML} or "
                                      f"{vendor.env_name(setting.name)}, not in {exc.provider_name}")
            continue
        expected = None if found is None else _expected(setting, found.value)
        if expected:
            where = _where(files, found.provider, found.path, found.key)
            problems[setting.name] = f"{vendor.title}: {where}{_shown_value(vendor, setting, found)}: expected {expected}"
    return problems


def unknown_settings(vendors: Sequence[Vendor], within: Vendor | None = None) -> list[str]:
    """One warning per key under [sources] or SOURCES__ that no vendor takes, naming the closest known
    key; only those of `within`'s own section when given. Files that do not parse are passed over."""
    warnings = []
    for file in settings_files():
        try:
            document, text = file.parsed(), file.text()
        except BrokenFile:
            continue
        for path, shown, why in _unknown_in(document.get(SOURCES), vendors, within):
            line = _line_of(text, path)
            warnings.append(f"{file.shown}{f', line {line}' if line else ''}: {shown} {why}")
    for name in sorted(os.environ):
        why = _unknown_env(name, vendors, within)
        if why:
            warnings.append(f"environment variable {name} {why}")
    return warnings


def describing_arguments(vendor: Vendor) -> dict[str, Any]:
    """An argument for every parameter of the vendor's source, none of them read from its settings: a
    placeholder for a required setting, else the default, else an empty value of the setting's type."""
    arguments: dict[str, Any] = {}
    for setting in vendor_settings(vendor):
        if setting.name in vendor.required_settings:
            arguments[setting.name] = SPEC_PLACEHOLDER
        elif setting.default is not None:
            arguments[setting.name] = setting.default
        else:
            arguments[setting.name] = _empty(setting.inner_hint)
    return arguments


def _run_context() -> RunContextBase:
    """dlt's run context, as dlt makes it (its settings folder is the working directory's .dlt)."""
    return plugins.manager().hook.plug_run_context(run_dir=None, runtime_kwargs=None)


def _dlt_providers() -> list[ConfigProvider]:
    """The providers dlt reads settings from, in its order, made afresh: the files as they are now.

    Not the ones dlt keeps for the process: asking for those sets dlt's runtime up, its logging
    included, which a run does later where its output is meant to go."""
    return _run_context().initial_providers()


def _parsed_files() -> list[tuple[SettingsFile, dict[str, Any]]]:
    return [(file, file.parsed()) for file in settings_files()]


def _lookup(vendor: Vendor, setting: Setting, providers: Sequence[ConfigProvider]) -> Found | None:
    """The value dlt would give `setting` when the vendor's source is called, and where it is from."""
    sections = (SOURCES, vendor.source.section or vendor.name, vendor.source.name)
    for provider in providers:
        if provider.is_empty:
            continue  # as dlt does
        value, traces = resolve_single_provider_value(provider, setting.name, setting.hint, None, None, sections)
        if value is not None:
            trace = traces[-1]
            return Found(provider.name, (*trace.sections, setting.name), trace.key, value)
    return None


def _expected(setting: Setting, value: Any) -> str | None:
    """What `value` should have been, or None when dlt takes it and it makes sense for the setting."""
    try:
        coerced = deserialize_value(setting.name, value, setting.inner_hint)
    except ConfigValueCannotBeCoercedException:
        return _with_example(_kind(setting), setting)
    for applies, accepts, expected, example in _RULES:
        if applies(setting.name) and not accepts(coerced):
            return f"{expected}, such as {example}" if example else _with_example(expected, setting)
    return None


def _is_date(value: Any) -> bool:
    # As pipelines.vendor.resolve_as_of reads a date: blank means today.
    if value in (None, ""):
        return True
    try:
        dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return False
    return True


# Beyond its type, what a setting's value must be: (applies to the name, accepts, expected, example;
# None: the default). Settings are named alike across vendors, so these hold for all of them.
_RULES: tuple[tuple[Callable[[str], bool], Callable[[Any], bool], str, str | None], ...] = (
    (lambda name: name == "max_in_flight", lambda value: value >= 1, "an integer, 1 or more", None),
    (lambda name: name == "request_timeout", lambda value: value > 0, "a number of seconds above 0", None),
    (lambda name: name == "retry_backoff", lambda value: value >= 0, "a number of seconds, 0 or more", None),
    (lambda name: name.endswith("_days"), lambda value: value >= 0, "an integer, 0 or more", None),
    (lambda name: name == "as_of" or name.endswith("_date"), _is_date, "a date YYYY-MM-DD", DATE_EXAMPLE),
)


def _kind(setting: Setting) -> str:
    inner = setting.inner_hint
    if inner in KINDS:
        return KINDS[inner]
    if _is_collection(inner, Mapping):
        return "a table"
    if _is_collection(inner, Sequence):
        items = _item_kind(setting.hint)
        return f"a list of {items}" if items else "a list"
    return f"a value of type {getattr(inner, '__name__', inner)}"


def _is_collection(hint: Any, kind: type) -> bool:
    return isinstance(hint, type) and issubclass(hint, kind) and not issubclass(hint, str | bytes)


def _item_kind(hint: Any) -> str | None:
    """What the list in `hint` holds (Sequence[int] | str | None: integers), if one kind of thing."""
    arms = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    for arm in arms:
        if _is_collection(get_origin(arm), Sequence) and len(get_args(arm)) == 1:
            return ITEM_KINDS.get(get_args(arm)[0])
    return None


def _with_example(expected: str, setting: Setting) -> str:
    if setting.default is None or isinstance(setting.default, bool):
        return expected
    return f"{expected}, such as {_toml(setting.default)}"


def _empty(inner_hint: Any) -> Any:
    if inner_hint in (str, int, float, bool):
        return inner_hint()
    if _is_collection(inner_hint, Sequence):
        return []
    return SPEC_PLACEHOLDER


def _shown_value(vendor: Vendor, setting: Setting, found: Found) -> str:
    """` = value` as it may be echoed, or why it is not: a secret's, or one kept with secrets."""
    if setting.secret or setting.name in vendor.secret_settings:
        return f" {HIDDEN_VALUE}"
    if setting.name.endswith(URL_SETTING_SUFFIX):
        return f" = {json.dumps(shown_url(str(found.value)), ensure_ascii=False)}"
    if found.provider not in (ENVIRONMENT, CONFIG_TOML):
        return f" (value not shown: {found.provider} holds secrets)"
    return f" = {_toml(found.value)}"


def _toml(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= SHOWN_VALUE_CHARS else shown[:SHOWN_VALUE_CHARS] + "…"


def _where(files: list[tuple[SettingsFile, dict[str, Any]]], provider: str, path: tuple[str, ...], key: str) -> str:
    """The environment variable, or the file and line, a value was found in, with its section and key."""
    if provider == ENVIRONMENT:
        return f"environment variable {key}"
    # dlt merges a project's file over the global one: the first that holds the key gave the value.
    holders = [file for file, document in files if file.name == provider and _holds(document, path)]
    if not holders:
        return f"{provider}: {_toml_key(path)}"
    line = _line_of(holders[0].text(), path)
    return f"{holders[0].shown}{f', line {line}' if line else ''}: {_toml_key(path)}"


def _holds(document: Any, path: tuple[str, ...]) -> bool:
    for part in path:
        if not isinstance(document, dict) or part not in document:
            return False
        document = document[part]
    return True


def _toml_key(path: tuple[str, ...]) -> str:
    """[sources.opus] lookback_days, as the key appears in a TOML file."""
    return f"[{'.'.join(path[:-1])}] {path[-1]}" if len(path) > 1 else path[0]


def _dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def _line_of(text: str, path: tuple[str, ...]) -> int | None:
    """The line that sets `path` (a key, or a table's header), or None when it cannot be told."""
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = TOML_TABLE.match(line)
        if header:
            table = _dotted(header["path"])
            if table[:len(path)] == path:
                return number
            continue
        key = TOML_KEY.match(line)
        if key and (table + _dotted(key["key"]))[:len(path)] == path:
            return number
    return None


def _toml_error(text: str, message: str) -> str:
    """tomllib's message as `line L, column C: what`, the end of the document told as its last line."""
    match = TOML_ERROR.fullmatch(message)
    if not match:
        return message
    reason = TOML_REASONS.get(match["reason"], match["reason"][:1].lower() + match["reason"][1:])
    if match["line"]:
        line, column = int(match["line"]), int(match["column"])
    else:
        end = len(text.rstrip())
        line, column = text.count("\n", 0, end) + 1, end - text.rfind("\n", 0, end)
    if match["reason"] in TOML_REASONS:
        # Where the string opens is what to look at, not where tomllib gave up on it.
        lines = text.splitlines()
        column = (_open_quote(lines[line - 1]) if line <= len(lines) else None) or column
    return f"line {line}, column {column}: {reason}"


def _open_quote(line: str) -> int | None:
    """The column (from 1) of the quote that opens a string left open at the end of `line`."""
    opened: tuple[int, str] | None = None
    index = 0
    while index < len(line):
        char = line[index]
        if opened is None:
            if char == "#":
                break
            if char in "\"'":
                opened = (index, char)
        elif opened[1] == '"' and char == "\\":
            index += 1  # an escaped character, a quote perhaps
        elif char == opened[1]:
            opened = None
        index += 1
    return opened[0] + 1 if opened else None


def _unknown_in(
    sources: Any, vendors: Sequence[Vendor], within: Vendor | None
) -> Iterator[tuple[tuple[str, ...], str, str]]:
    """(path, the key as written, why it is unknown) for each key under [sources] that no vendor takes."""
    if not isinstance(sources, dict):
        return
    by_name = {vendor.name: vendor for vendor in vendors}
    every_key = sorted({setting.name for vendor in vendors for setting in vendor_settings(vendor)})
    for name, value in sources.items():
        vendor = by_name.get(name)
        path = (SOURCES, name)
        if vendor is not None and within in (None, vendor) and isinstance(value, dict):
            yield from _unknown_keys(vendor, value, path)
        elif within is not None:
            continue
        elif isinstance(value, dict):
            if vendor is None and name not in DLT_SECTIONS:
                close = difflib.get_close_matches(name, list(by_name), n=1)
                why = f"; did you mean [{SOURCES}.{close[0]}]?" if close else f" ({', '.join(by_name)})"
                yield path, f"[{SOURCES}.{name}]", f"names no vendor Turnout loads{why}"
        elif name not in every_key:
            yield path, _toml_key(path), _not_known(name, every_key, "any vendor", str)


def _unknown_keys(
    vendor: Vendor, table: dict[str, Any], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str, str]]:
    known = [setting.name for setting in vendor_settings(vendor)]
    for key, value in table.items():
        if isinstance(value, dict):
            # dlt's longer layout, [sources.opus.opus]; other tables are dlt's own (data_writer...).
            if key == vendor.source.name and len(path) == 2:
                yield from _unknown_keys(vendor, value, (*path, key))
        elif key not in known:
            yield (*path, key), _toml_key((*path, key)), _not_known(key, known, vendor.title, str)


def _not_known(key: str, known: list[str], owner: str, shown: Callable[[str], str]) -> str:
    """`is not a setting of OPUS DX; did you mean lookback_days?`, the suggestion shown by `shown`."""
    # Matched without regard to case: dlt reads only upper-case variable names, and lower case is a typo too.
    close = difflib.get_close_matches(key.lower(), [name.lower() for name in known], n=1)
    suggestion = next((name for name in known if close and name.lower() == close[0]), None)
    hint = f"; did you mean {shown(suggestion)}?" if suggestion else f" (known: {', '.join(known)})"
    return f"is not a setting of {owner}{hint}"


def _unknown_env(name: str, vendors: Sequence[Vendor], within: Vendor | None) -> str | None:
    """Why SOURCES__... is read by no vendor, naming the closest variable that is; None when one reads it."""
    parts = name.split(ENV_SEPARATOR)
    if parts[0] != SOURCES.upper() or len(parts) < 2:
        return None
    by_env = {vendor.name.upper(): vendor for vendor in vendors}
    if len(parts) == 2:
        every_key = sorted({s.name.upper() for vendor in vendors for s in vendor_settings(vendor)})
        if within is not None or parts[1] in every_key:
            return None
        return _not_known(parts[1], every_key, "any vendor", lambda key: f"SOURCES__{key}")
    vendor = by_env.get(parts[1])
    if vendor is None:
        if within is not None or parts[1].lower() in DLT_SECTIONS:
            return None
        close = difflib.get_close_matches(parts[1], list(by_env), n=1)
        suggestion = f"SOURCES__{close[0]}__{ENV_SEPARATOR.join(parts[2:])}" if close else None
        return "names no vendor Turnout loads" + (f"; did you mean {suggestion}?" if suggestion else "")
    if within not in (None, vendor):
        return None
    rest = parts[2:]
    if len(rest) == 2 and rest[0] == vendor.source.name.upper():
        rest = rest[1:]  # dlt's longer layout: SOURCES__OPUS__OPUS__<KEY>
    if len(rest) != 1:
        return None  # a table of dlt's own (SOURCES__OPUS__DATA_WRITER__...)
    known = [setting.name.upper() for setting in vendor_settings(vendor)]
    if rest[0] in known:
        return None
    return _not_known(rest[0], known, vendor.title, vendor.env_name)
