"""Icareus Suite Event Management API sandbox (``vendor-docs/icareus-suite-event-management-api.txt``).

Serves the Event Management (``/api/event``) and Room Management
(``/api/event/room``) calls below the base URL, over deterministic synthetic
data (a function of ``seed``, ``scale``, ``start_date`` and ``events``) and a
simulated clock. Icareus Suite is a webinar and virtual event platform: an
event is a webinar, conference, product launch, town hall or training with
multilingual texts and one or more rooms (streams). The vendor answers some
failures with HTTP 200 and ``{"status": "error", "message": ...}``, and so does
the sandbox: a client must look at ``status``, not only at the HTTP status.

Events and rooms carry every key of the document's examples, in the
document's order. Event: ``restrictions, isMultiroom, mainEventRoomId,
embedUrl, startTimePublic, defaultLanguage, durationPublic, publishingInfo,
startTime, eventTheme, duration, eventLanguages, eventId, serviceId,
publicName, description, name, accessControls, gdpr, categories, externalId,
eventThumbnail, rooms``. Room: ``eventTheme, startTime, duration, recordings,
serviceId, eventId, startTimePublic, durationPublic, description, publicName,
name, embedUrl, roomId, publishingInfo``. Times are milliseconds since the
Unix epoch, durations seconds; texts are objects ``{language: text}``.

Assumptions where the document is silent:

- Token: ``Authorization: Bearer <token>``, 40 hex characters (read without
  case): 8 of Unix time in seconds, then the MD5 hex of
  ``organizationId:hexTime:secret:clientIp``. ``organizationId`` comes from
  the query string for GET and DELETE (and for ``/api/event/images``, whose
  parameters the document puts in the query), from the JSON body for POST
  and PUT. The client IP is the configured ``client_ip``, else the address of
  the connection. Checks, in order: a missing header or another scheme than
  Bearer is 401 "Authorization token missing"; a token that is not 40 hex
  characters 401 "Malformed token"; a POST/PUT body that is not a JSON
  object 400; a missing or non-integer ``organizationId`` 400 naming it; an
  unknown organisation or a signature that does not match (wrong secret,
  organisation or IP) 401 "Invalid token"; a token time more than
  ``token_tolerance`` seconds before the real clock 401 "Token expired", after
  it 401 "Token not yet valid". Tokens follow the real clock, not the
  simulated one, and may be reused within the tolerance. Neither the token
  nor a secret is ever echoed. Unknown paths answer 404 and a known path with
  another method 405 (with ``Allow``), both before the token is checked.
  Errors are ``{"status": "error", "message": ...}`` throughout.
- Two organisations exist: the main one (``organization_id``/``secret``) and
  ``OTHER_ORGANIZATION_ID`` with two events of its own. An organisation sees
  only its own events and rooms; another's answer as not found.
- Answered with HTTP 200 and status error: an unknown event or room (or one
  of another organisation), "Event <id> not found" / "Room <id> not found";
  a missing or non-integer ``eventId``/``roomId``; every validation error of
  a create or edit, the message naming the field. Keys the sandbox does not
  know are ignored; ``accessControl`` (documented as unsupported) is accepted
  and ignored, ``accessControls`` stays empty. A JSON ``null`` counts as not
  given. Integers must be JSON integers; ``organizationId`` may also be a
  string of digits.
- Texts (name, description, publicName, the gdpr texts) given as a string are
  saved under the default language (the one given in the same request, else
  the event's); objects may only use en_US, fi_FI, es_ES and sv_SE, and their
  values must be strings. Names must not be empty. An edit merges texts per
  language (a string replaces the default language's text, other languages
  are kept), replaces ``eventLanguages`` (the default language is always
  kept in it, first when added) and merges ``gdpr`` per text. Without
  ``eventLanguages`` a new event has only its default language. Description
  and public name are served as ``{}`` when there is no text.
- Events: ``startTime`` ≥ 0, ``duration`` and ``durationPublic`` > 0;
  ``durationPublic`` is required when ``startTimePublic`` is given (after an
  edit, when the event has a public start). ``eventTheme`` defaults to the
  first theme of the organisation (3319901). Creating an event creates its
  main room (same times and theme, the document's main-room texts); the main
  room cannot be deleted ("The main room of an event cannot be deleted").
  Moving or shortening an event with an edit leaves its rooms where they are;
  a room is checked against the event's span when it is created, or edited
  with new times or channel (an edit of its texts alone always passes, even
  when the event has moved away from it). Deleting an event deletes its rooms. Ids come from one counter for
  events and rooms and are never reused.
- Rooms: ``startTime`` not before the event's, ``startTime`` + ``duration``
  not after the event's end, ``startTimePublic`` not before ``startTime``,
  ``durationPublic`` required with ``startTimePublic``. ``eventTheme``
  defaults to the event's theme, ``serviceId`` (the linear channel) to a new
  one; a channel may not be used by two rooms of an organisation at
  overlapping times. Creating a room answers the whole event with the new
  room first: rooms are listed newest first, as in the document's example.
- ``/api/event/participant`` (documented as currently unsupported) and
  ``/api/event/images`` authenticate, then answer HTTP 200 with a status
  error saying they are unsupported.
- Synthetic data: event ids start at 3697601 and grow by small steps; each
  event's main room is the next id. Events start between ``start_date`` − 60
  and + 60 days at a quarter hour between 06:00 and 18:00 UTC and last 1–8
  hours. A quarter have ``defaultLanguage`` fi_FI (one at a drawn place in
  every four events; with en_US and fi_FI texts), about half of the others have Finnish, Swedish or Spanish
  translations. About 70% have public times (starting 0–30 minutes after the
  start, ending by the end), about half a ``gdpr`` object, a third an
  ``externalId`` and some a thumbnail. About 40% are multiroom, with 1–4
  extra rooms inside the event's span, some with public times.
- The simulated clock starts at 06:00 UTC of ``start_date``. Each advanced
  day modifies a few events of the main organisation that have not started
  (rename with a new translation or a changed text, move by 15–120 minutes
  with their rooms, or lengthen, the main room along), adds a room to some, deletes an extra room
  from some and renames a room of some. No events are created or deleted by
  the clock; the other organisation's events never change. Each day's draws
  come from its own seed, so advancing 2 days equals advancing 1 day twice.

Sparse profile (``profile="sparse"``, see ``sandboxes.server.SandboxProfile``):
the document marks what creating an event or a room requires, and the
sandbox sends that and the ids (``EVENT_SHAPE``, ``ROOM_SHAPE``):

- Always sent: an event's ``eventId``, ``name``, ``startTime``, ``duration``,
  ``mainEventRoomId`` and ``rooms``; a room's ``roomId``, ``eventId``,
  ``name``, ``startTime`` and ``duration``. Rooms are the event's sessions
  and every event keeps its main room, so no event has an empty room list.
- Everything else is optional: left out, blank ("" or an empty list or
  object) or kept as drawn per event and per room; a number left out rather
  than blank. ``startTimePublic`` and ``durationPublic`` come or go together,
  as the document requires. Without ``defaultLanguage`` the document's
  default, en_US, applies; every event has an en_US name.
- Every answer carrying an event or a room (GET, create, edit, and the
  ``event()`` hook) is thinned the same way.

Faults (``sandboxes.faults``): drift and bad data apply to ``GET /api/event``
(the event inside ``{"status": "ok", "event": ...}``; status errors are left
alone). The key is ``eventId``; the date is ``startTime``, from which the
source reckons an event's end. Drift adds ``promoCode``, turns ``serviceId``
(a number stored as is) into an object and leaves out ``description`` (an
event may have no text; the source declares its column). ``expired_token``
applies to calls with a bearer token and answers 401 "Token expired" without
checking it; the client signs a new token and repeats the call.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import random
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandboxes.faults import FaultTarget
from sandboxes.server import FULL, RecordShape, SandboxApp, SandboxResponse, request_peer, synchronized

DEMO_ORGANIZATION_ID = 1909009
# Secrets are drawn once per process, so no usable one is a constant in code: tests
# read them from here, clients from `settings()`, and `turnout demo` may pass its own.
DEMO_SECRET = f"icareus-sandbox-{secrets.token_urlsafe(18)}"
OTHER_ORGANIZATION_ID = 1910044
OTHER_SECRET = f"icareus-other-org-{secrets.token_urlsafe(18)}"
DEFAULT_TOKEN_TOLERANCE = 300.0
DEFAULT_CLIENT_IP = "127.0.0.1"

EVENT_PATH = "/api/event"
ROOM_PATH = "/api/event/room"
PARTICIPANT_PATH = "/api/event/participant"
IMAGES_PATH = "/api/event/images"
CRUD_METHODS = ("GET", "POST", "PUT", "DELETE")
ROUTE_METHODS: dict[str, tuple[str, ...]] = {
    EVENT_PATH: CRUD_METHODS,
    ROOM_PATH: CRUD_METHODS,
    PARTICIPANT_PATH: CRUD_METHODS,
    IMAGES_PATH: ("POST",),
}

EMBED_URL = "https://suite.icareus.example/web/turnout-sandbox/player/embed/event/view"
INGEST_URL = "rtmp://ingest.icareus.example:1935/suitelive"
THUMBNAIL_URL = "https://cdn.icareus.example/turnout-sandbox/thumbnails/{event_id}.jpg"

LANGUAGES = ("en_US", "fi_FI", "es_ES", "sv_SE")
DEFAULT_LANGUAGE = "en_US"
TEXT_KEYS = ("name", "description", "publicName")

# What the sparse profile always sends of an event and a room; see the module docstring.
_PUBLIC_TIMES = ({"startTimePublic", "durationPublic"},)
EVENT_SHAPE = RecordShape(
    "event", key=("eventId",), required={"name", "startTime", "duration", "mainEventRoomId", "rooms"},
    together=_PUBLIC_TIMES,
)
ROOM_SHAPE = RecordShape(
    "room", key=("roomId",), required={"eventId", "name", "startTime", "duration"}, together=_PUBLIC_TIMES,
)
GDPR_KEYS = ("privacyPolicy", "copyright", "termsOfService")  # served in the document's order
THEMES = (3319901, 3319907, 3320412, 3321188)

TOKEN_PATTERN = re.compile(r"[0-9a-fA-F]{40}")
DIGITS_PATTERN = re.compile(r"-?\d{1,18}")
MAX_ECHOED_VALUE = 40

MAIN_ROOM_TEXTS = {
    "name": {"en_US": "Main Room"},
    "description": {"en_US": "This is the main room"},
    "publicName": {"en_US": "Main room"},
}


@dataclass(frozen=True)
class ScalePreset:
    events: int
    modified_events_per_day: tuple[int, int]
    added_rooms_per_day: tuple[int, int]
    deleted_rooms_per_day: tuple[int, int]
    modified_rooms_per_day: tuple[int, int]
    # Events start from this many days before the start date: medium and large hold
    # years of history, as an organisation's first load does, and a day then adds and
    # changes about what an average day of that history holds, at most a few times more.
    history_days: int = 60


SCALES: dict[str, ScalePreset] = {
    "small": ScalePreset(
        events=12, modified_events_per_day=(1, 2), added_rooms_per_day=(0, 1),
        deleted_rooms_per_day=(0, 1), modified_rooms_per_day=(0, 1),
    ),
    "medium": ScalePreset(
        events=300, modified_events_per_day=(1, 3), added_rooms_per_day=(1, 3),
        deleted_rooms_per_day=(1, 2), modified_rooms_per_day=(1, 3), history_days=1825,
    ),
    "large": ScalePreset(
        events=2_000, modified_events_per_day=(5, 15), added_rooms_per_day=(3, 9),
        deleted_rooms_per_day=(1, 5), modified_rooms_per_day=(3, 9), history_days=1825,
    ),
}

EVENT_ID_BASE = 3_697_601
EVENT_ID_STEP = (3, 40)
ROOM_ID_STEP = (1, 3)
SERVICE_ID_BASE = 1_909_939
SERVICE_ID_STEP = (1, 9)
OTHER_EVENTS = 2

# Events start between these many days before and after the start date,
# at a quarter hour between 06:00 and 18:00 UTC, and last 1–8 hours.
EVENT_WINDOW_DAYS = (-60, 60)
FIRST_START_MINUTE = 6 * 60
LAST_START_MINUTE = 18 * 60
QUARTER = 900  # seconds
DURATION_QUARTERS = (4, 32)
PUBLIC_TIMES_RATE = 0.7
PUBLIC_DELAY_MINUTES = (0, 5, 10, 15, 20, 30)
PUBLIC_EARLY_END_SECONDS = (0, 0, 300, 600, 900)
FINNISH_EVERY = 4
TRANSLATED_RATE = 0.5
SWEDISH_WITH_FINNISH_RATE = 0.4
DESCRIPTION_RATE = 0.85
PUBLIC_NAME_RATE = 0.85
GDPR_RATE = 0.5
EXTERNAL_ID_RATE = 1 / 3
THUMBNAIL_RATE = 0.3
MULTIROOM_RATE = 0.4
EXTRA_ROOMS = (1, 4)
ROOM_PUBLIC_TIMES_RATE = 0.4
ROOM_DESCRIPTION_RATE = 0.7
ROOM_PUBLIC_NAME_RATE = 0.8
# Daily changes.
MOVE_QUARTERS = (1, 8)  # 15–120 minutes
EXTEND_QUARTERS = (1, 4)

# ---- catalogue -------------------------------------------------------------------
WEBINAR, CONFERENCE, LAUNCH, TOWN_HALL, TRAINING = "webinar", "conference", "launch", "town hall", "training"


def _t(en: str, fi: str, sv: str, es: str) -> dict[str, str]:
    return {"en_US": en, "fi_FI": fi, "sv_SE": sv, "es_ES": es}


TITLES: tuple[tuple[str, dict[str, str]], ...] = (
    (WEBINAR, _t("Cloud Security Basics", "Pilviturvallisuuden perusteet", "Grunderna i molnsäkerhet",
                 "Fundamentos de seguridad en la nube")),
    (WEBINAR, _t("Data Privacy in Practice", "Tietosuoja käytännössä", "Dataskydd i praktiken",
                 "Privacidad de datos en la práctica")),
    (WEBINAR, _t("Sustainable Supply Chains", "Kestävät toimitusketjut", "Hållbara leveranskedjor",
                 "Cadenas de suministro sostenibles")),
    (WEBINAR, _t("Remote Work That Works", "Toimiva etätyö", "Distansarbete som fungerar",
                 "Teletrabajo que funciona")),
    (CONFERENCE, _t("Nordic Health Tech Summit", "Pohjoismainen terveysteknologian huippukokous",
                    "Nordiskt toppmöte om hälsoteknik", "Cumbre nórdica de tecnología sanitaria")),
    (CONFERENCE, _t("Future of Learning Conference", "Oppimisen tulevaisuus -konferenssi",
                    "Konferens om lärandets framtid", "Congreso sobre el futuro del aprendizaje")),
    (CONFERENCE, _t("Smart Cities Forum", "Älykkäät kaupungit -foorumi", "Forum för smarta städer",
                    "Foro de ciudades inteligentes")),
    (LAUNCH, _t("Launch: Aurora Analytics 5", "Julkistus: Aurora Analytics 5", "Lansering: Aurora Analytics 5",
                "Lanzamiento: Aurora Analytics 5")),
    (LAUNCH, _t("Meet the New Mobile App", "Tutustu uuteen mobiilisovellukseen", "Möt den nya mobilappen",
                "Conoce la nueva aplicación móvil")),
    (TOWN_HALL, _t("Quarterly Town Hall", "Neljännesvuosittainen henkilöstöinfo", "Kvartalsvis personalmöte",
                   "Reunión general trimestral")),
    (TOWN_HALL, _t("CEO Update and Q&A", "Toimitusjohtajan katsaus ja kysymykset",
                   "VD:ns lägesrapport och frågestund", "Actualización del CEO y preguntas")),
    (TRAINING, _t("Onboarding for New Staff", "Perehdytys uusille työntekijöille",
                  "Introduktion för nyanställda", "Acogida para nuevo personal")),
    (TRAINING, _t("First Aid Refresher", "Ensiavun kertauskurssi", "Repetitionskurs i första hjälpen",
                  "Repaso de primeros auxilios")),
    (TRAINING, _t("Spreadsheets for Analysts", "Taulukkolaskenta analyytikoille", "Kalkylark för analytiker",
                  "Hojas de cálculo para analistas")),
)
KIND_DESCRIPTIONS = {
    WEBINAR: _t("A live webinar with time for questions at the end.",
                "Suora webinaari, jonka lopussa on aikaa kysymyksille.",
                "Ett direktsänt webbinarium med tid för frågor i slutet.",
                "Un seminario web en directo con tiempo para preguntas al final."),
    CONFERENCE: _t("A full-day programme of keynotes, panels and parallel tracks.",
                   "Koko päivän ohjelma pääpuheenvuoroja, paneeleja ja rinnakkaisia sessioita.",
                   "Ett heldagsprogram med huvudtal, paneler och parallella spår.",
                   "Un programa de un día completo con ponencias, mesas redondas y sesiones paralelas."),
    LAUNCH: _t("Be the first to see what we have been building, with live demos.",
               "Näe ensimmäisten joukossa, mitä olemme rakentaneet – mukana suoria demoja.",
               "Se först av alla vad vi har byggt, med livedemonstrationer.",
               "Sé de los primeros en ver lo que hemos creado, con demostraciones en directo."),
    TOWN_HALL: _t("An update for all staff from the leadership team, followed by open Q&A.",
                  "Johdon katsaus koko henkilöstölle ja avoin kysymysosio.",
                  "En lägesrapport från ledningen till all personal, följd av öppen frågestund.",
                  "Una actualización de la dirección para toda la plantilla, seguida de preguntas abiertas."),
    TRAINING: _t("A hands-on training session; the materials are shared afterwards.",
                 "Käytännönläheinen koulutus; materiaalit jaetaan koulutuksen jälkeen.",
                 "En praktisk utbildning; materialet delas ut efteråt.",
                 "Una sesión de formación práctica; los materiales se comparten después."),
}
GDPR_TEXTS = {
    "privacyPolicy": _t("We process participants' data only to run this event.",
                        "Käsittelemme osallistujien tietoja vain tämän tapahtuman järjestämiseen.",
                        "Vi behandlar deltagarnas uppgifter endast för att genomföra evenemanget.",
                        "Tratamos los datos de los participantes solo para organizar este evento."),
    "copyright": _t("© {year} Turnout Events. All rights reserved.",
                    "© {year} Turnout Events. Kaikki oikeudet pidätetään.",
                    "© {year} Turnout Events. Alla rättigheter förbehållna.",
                    "© {year} Turnout Events. Todos los derechos reservados."),
    "termsOfService": _t("Recording or redistributing the stream is not allowed.",
                         "Lähetyksen tallentaminen tai edelleenjakelu on kielletty.",
                         "Det är inte tillåtet att spela in eller sprida sändningen.",
                         "No está permitido grabar ni redistribuir la emisión."),
}
ROOM_NAMES = (
    _t("Track B", "Linja B", "Spår B", "Sala B"),
    _t("Track C", "Linja C", "Spår C", "Sala C"),
    _t("Breakout room 1", "Ryhmätila 1", "Grupprum 1", "Sala de grupo 1"),
    _t("Breakout room 2", "Ryhmätila 2", "Grupprum 2", "Sala de grupo 2"),
    _t("Networking lounge", "Verkostoitumistila", "Nätverkslounge", "Sala de networking"),
    _t("Workshop studio", "Työpajastudio", "Workshopstudio", "Estudio de talleres"),
    _t("Q&A corner", "Kysymysnurkka", "Frågehörna", "Rincón de preguntas"),
    _t("Sponsor hall", "Sponsorihalli", "Sponsorhall", "Sala de patrocinadores"),
)
RENAME_TAGS = (
    _t("Updated", "Päivitetty", "Uppdaterad", "Actualizado"),
    _t("New date", "Uusi ajankohta", "Nytt datum", "Nueva fecha"),
    _t("Live Q&A", "Suora kysymysosio", "Frågestund live", "Preguntas en directo"),
    _t("Extended", "Laajennettu", "Utökad", "Ampliado"),
    _t("Limited seats", "Rajoitetusti paikkoja", "Begränsat antal platser", "Plazas limitadas"),
)


# --------------------------------------------------------------------------
# The data
# --------------------------------------------------------------------------


@dataclass
class Room:
    id: int
    event_id: int
    name: dict[str, str]
    description: dict[str, str]
    public_name: dict[str, str]
    start: int  # ms since the epoch
    duration: int  # seconds
    start_public: int | None
    duration_public: int | None
    theme: int
    service_id: int
    catalogue: int = -1  # index in ROOM_NAMES, -1 for the main room and rooms created over the API
    tag: int = -1  # index in RENAME_TAGS of the last rename by the clock

    @property
    def end(self) -> int:
        return self.start + 1000 * self.duration


@dataclass
class Event:
    id: int
    organization: int
    name: dict[str, str]
    description: dict[str, str]
    public_name: dict[str, str]
    start: int
    duration: int
    start_public: int | None
    duration_public: int | None
    default_language: str
    languages: list[str]
    theme: int
    gdpr: dict[str, dict[str, str]] | None = None
    external_id: str | None = None
    thumbnail: str | None = None
    main_room_id: int = 0
    rooms: list[Room] = field(default_factory=list)  # newest first
    title: int = -1  # index in TITLES, -1 for events created over the API
    suffix: str = ""
    tag: int = -1

    @property
    def end(self) -> int:
        return self.start + 1000 * self.duration


# (organization, query, JSON body) -> response
Handler = Callable[[int, Mapping[str, list[str]], dict[str, Any]], SandboxResponse]


class ApiError(Exception):
    """An answer ``{"status": "error", "message": ...}`` with an HTTP status."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> SandboxResponse:
        return _error(self.status, self.message, self.headers)


class Invalid(ApiError):
    """A request the vendor refuses with HTTP 200 and status error."""

    def __init__(self, message: str) -> None:
        super().__init__(200, message)


# --------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> SandboxResponse:
    return SandboxResponse.json({"status": "error", "message": message}, status=status, headers=headers)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value or ""


def _echo(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_ECHOED_VALUE else text[:MAX_ECHOED_VALUE] + "…"


def _epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1000


def signature(organization_id: int | str, hex_time: str, secret: str, client_ip: str) -> str:
    """The token's signature: MD5 hex of ``organizationId:hexTime:secret:clientIp``."""
    return hashlib.md5(f"{organization_id}:{hex_time}:{secret}:{client_ip}".encode()).hexdigest()


def _scaled(bounds: tuple[int, int], factor: float) -> tuple[int, int]:
    low, high = (round(b * factor) for b in bounds)
    return low, max(high, low)


def _integer(value: Any, name: str, *, required: bool, minimum: int | None = None) -> int | None:
    """A JSON integer field; ``None`` when absent (or null) and not required."""
    if value is None:
        if required:
            raise Invalid(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be an integer")
    if minimum is not None and value < minimum:
        raise Invalid(f"{name} must be at least {minimum}")
    return value


def _string(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    return value


def _language(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in LANGUAGES:
        raise Invalid(f"{name} must be one of {', '.join(LANGUAGES)}, not '{_echo(value)}'")
    return value


def _texts(value: Any, name: str, language: str, *, non_empty: bool = False) -> dict[str, str] | None:
    """A multilingual text: a string (saved as ``language``) or ``{language: text}``."""
    if value is None:
        return None
    if isinstance(value, str):
        texts = {language: value}
    elif isinstance(value, dict):
        texts = {}
        for lang, text in value.items():
            if lang not in LANGUAGES:
                raise Invalid(f"{name}: unsupported language '{_echo(lang)}'; supported are {', '.join(LANGUAGES)}")
            if not isinstance(text, str):
                raise Invalid(f"{name}.{lang} must be a string")
            texts[lang] = text
    else:
        raise Invalid(f"{name} must be a string or an object of translations")
    if non_empty and any(not text.strip() for text in texts.values()):
        raise Invalid(f"{name} must not be empty")
    return texts


def _languages(value: Any, default: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise Invalid("eventLanguages must be an array of languages")
    languages: list[str] = []
    for item in value:
        lang = _language(item, "eventLanguages")
        if lang is not None and lang not in languages:
            languages.append(lang)
    return _with_default(languages, default)


def _with_default(languages: list[str], default: str) -> list[str]:
    return languages if default in languages else [default, *languages]


def _gdpr(value: Any, language: str) -> dict[str, dict[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid("gdpr must be an object")
    gdpr = {}
    for key in GDPR_KEYS:
        texts = _texts(value.get(key), f"gdpr.{key}", language)
        if texts is not None:
            gdpr[key] = texts
    return gdpr


def _merge_gdpr(current: dict[str, dict[str, str]] | None,
                changes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    merged = {key: dict(texts) for key, texts in (current or {}).items()}
    for key, texts in changes.items():
        merged[key] = {**merged.get(key, {}), **texts}
    return {key: merged[key] for key in GDPR_KEYS if key in merged}


def _object(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        raise Invalid(f"{name} is required")
    if not isinstance(value, dict):
        raise Invalid(f"{name} must be an object")
    return value


def _query_id(query: Mapping[str, list[str]], name: str) -> int:
    values = [v.strip() for v in query.get(name, []) if v.strip()]
    if not values:
        raise Invalid(f"Parameter {name} is missing")
    if not DIGITS_PATTERN.fullmatch(values[0]):
        raise Invalid(f"Parameter {name} must be an integer")
    return int(values[0])


def _body_id(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        raise Invalid(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be an integer")
    return value


def _organization_id(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ApiError(400, "Parameter organizationId is missing")
    if isinstance(value, str) and DIGITS_PATTERN.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "Parameter organizationId must be an integer")
    return value


def _check_public(start_public: int | None, duration_public: int | None) -> None:
    if start_public is not None and duration_public is None:
        raise Invalid("durationPublic is required if startTimePublic is provided")


# --------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------


class IcareusSandbox(SandboxApp):
    """The Icareus Suite Event Management API over synthetic data; see the module docstring.

    Test hooks besides HTTP: ``requests_served`` counts requests to the API
    (the control routes never reach the app); ``tokens_accepted`` lists the
    hex time (first 8 characters) of every accepted token, in order, so a
    test can see that a client signs fresh tokens; ``fail_next(status,
    message)`` makes the next API request answer ``{"status": "error",
    "message": message}`` with that HTTP status, before the token is checked;
    ``event_ids()`` lists the main organisation's event ids and
    ``other_event_ids()`` the other organisation's, ascending; ``event(id)``
    is a deep copy of an event exactly as GET serves it (None when there is
    no such event). ``organizations`` maps each known organisation to its
    secret.
    """

    vendor = "icareus"
    title = "Icareus Suite"
    fault_target = FaultTarget(
        paths=(re.escape(EVENT_PATH),),
        records=("event",),
        key="eventId",
        date="startTime",
        new_field="promoCode",
        retyped_field="serviceId",
        gone_field="description",
    )

    def __init__(
        self,
        *,
        seed: int = 1,
        scale: str = "small",
        start_date: dt.date | None = None,
        events: int | None = None,
        organization_id: int = DEMO_ORGANIZATION_ID,
        secret: str = DEMO_SECRET,
        client_ip: str | None = None,
        token_tolerance: float = DEFAULT_TOKEN_TOLERANCE,
        profile: str = FULL,
    ) -> None:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
        if events is not None and events < 0:
            raise ValueError("events must not be negative")
        if organization_id == OTHER_ORGANIZATION_ID:
            raise ValueError(f"organization_id {OTHER_ORGANIZATION_ID} is the sandbox's other organisation")
        if token_tolerance < 0:
            raise ValueError("token_tolerance must not be negative")
        super().__init__(seed=seed, scale=scale, start_date=start_date, profile=profile)
        self.preset = SCALES[scale]
        self.event_count = self.preset.events if events is None else events
        factor = self.event_count / self.preset.events
        self._modified_per_day = _scaled(self.preset.modified_events_per_day, factor)
        self._added_rooms_per_day = _scaled(self.preset.added_rooms_per_day, factor)
        self._deleted_rooms_per_day = _scaled(self.preset.deleted_rooms_per_day, factor)
        self._modified_rooms_per_day = _scaled(self.preset.modified_rooms_per_day, factor)
        self.organization_id = organization_id
        self.secret = secret
        self.organizations: dict[int, str] = {organization_id: secret, OTHER_ORGANIZATION_ID: OTHER_SECRET}
        self.client_ip = client_ip
        self.token_tolerance = token_tolerance
        self.requests_served = 0
        self.tokens_accepted: list[str] = []
        self._failure: tuple[int, str] | None = None
        self.events: dict[int, Event] = {}  # in id (creation) order
        self._rooms: dict[int, Room] = {}
        self._last_id = EVENT_ID_BASE - 1
        self._last_service = SERVICE_ID_BASE - 1
        self._routes = self._handlers()
        self._build()

    # ---- public hooks ---------------------------------------------------

    def settings(self, base_url: str) -> dict[str, str]:
        return {
            "SOURCES__ICAREUS__BASE_URL": base_url,
            "SOURCES__ICAREUS__ORGANIZATION_ID": str(self.organization_id),
            "SOURCES__ICAREUS__SECRET": self.secret,
            "SOURCES__ICAREUS__CLIENT_IP": self.client_ip or DEFAULT_CLIENT_IP,
            "SOURCES__ICAREUS__EVENT_IDS": ",".join(str(i) for i in self.event_ids()),
        }

    @synchronized
    def event_ids(self) -> list[int]:
        """The main organisation's event ids, ascending."""
        return sorted(e.id for e in self.events.values() if e.organization == self.organization_id)

    @synchronized
    def other_event_ids(self) -> list[int]:
        """The other organisation's event ids, ascending."""
        return sorted(e.id for e in self.events.values() if e.organization == OTHER_ORGANIZATION_ID)

    @synchronized
    def event(self, event_id: int) -> dict[str, Any] | None:
        """A copy of the event as GET serves it, or None."""
        event = self.events.get(event_id)
        return None if event is None else copy.deepcopy(self._event_json(event))

    def presented_token(self, method: str, path: str, headers: Mapping[str, str]) -> str | None:
        if (path.rstrip("/") or "/") not in ROUTE_METHODS:
            return None
        scheme, _, token = _header(headers, "Authorization").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def expire_token(self, token: str) -> SandboxResponse:
        # Icareus tokens carry their own time: nothing to forget, the client signs a new one.
        return ApiError(401, "Token expired").response()

    @synchronized
    def fail_next(self, status: int, message: str) -> None:
        """The next API request answers this status error with this HTTP status."""
        self._failure = (status, message)

    # ---- building -------------------------------------------------------

    def _build(self) -> None:
        rng = random.Random(f"icareus:{self.seed}:{self.scale}:{self.event_count}:build")
        sessions: dict[int, int] = {}
        external = rng.randint(1, 60)
        # One event in every FINNISH_EVERY (at a drawn place in each block) defaults to Finnish.
        finnish = -1
        for index in range(self.event_count):
            if index % FINNISH_EVERY == 0:
                finnish = index + rng.randrange(FINNISH_EVERY)
            step = 1 if index == 0 else rng.randint(*EVENT_ID_STEP)
            event = self._draw_event(rng, self.organization_id, step, sessions, finnish=index == finnish)
            if rng.random() < EXTERNAL_ID_RATE:
                year = dt.datetime.fromtimestamp(event.start / 1000, dt.UTC).year
                event.external_id = f"CRM-{year}-{external:04d}"
                external += rng.randint(1, 5)
            if rng.random() < THUMBNAIL_RATE:
                event.thumbnail = THUMBNAIL_URL.format(event_id=event.id)
        other = random.Random(f"icareus:{self.seed}:other-organization")
        for _ in range(OTHER_EVENTS):
            self._draw_event(other, OTHER_ORGANIZATION_ID, other.randint(*EVENT_ID_STEP), {},
                             finnish=other.random() < 1 / FINNISH_EVERY)

    def _next_id(self, step: int = 1) -> int:
        self._last_id += step
        return self._last_id

    def _next_service(self, step: int = 1) -> int:
        self._last_service += step
        return self._last_service

    def _draw_event(
        self, rng: random.Random, organization: int, step: int, sessions: dict[int, int], *, finnish: bool,
    ) -> Event:
        title = rng.randrange(len(TITLES))
        kind, titles = TITLES[title]
        low, high = -self.preset.history_days, EVENT_WINDOW_DAYS[1]
        day = self.start_date + dt.timedelta(days=rng.randint(low, high))
        minute = FIRST_START_MINUTE + 15 * rng.randint(0, (LAST_START_MINUTE - FIRST_START_MINUTE) // 15)
        start = _epoch_ms(dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=dt.UTC))
        duration = QUARTER * rng.randint(*DURATION_QUARTERS)
        start_public = duration_public = None
        if rng.random() < PUBLIC_TIMES_RATE:
            delay = 60 * rng.choice(PUBLIC_DELAY_MINUTES)
            start_public = start + 1000 * delay
            duration_public = duration - delay - rng.choice(PUBLIC_EARLY_END_SECONDS)
        if finnish:
            default = "fi_FI"
            languages = ["fi_FI", "en_US"] + (["sv_SE"] if rng.random() < SWEDISH_WITH_FINNISH_RATE else [])
        else:
            default = DEFAULT_LANGUAGE
            languages = [DEFAULT_LANGUAGE]
            if rng.random() < TRANSLATED_RATE:
                extra = rng.sample(("fi_FI", "sv_SE", "es_ES"), rng.choice((1, 1, 2, 3)))
                languages += [lang for lang in LANGUAGES if lang in extra]
        if kind == CONFERENCE:
            suffix = f" {day.year}"
        elif kind == TOWN_HALL:
            suffix = f" Q{(day.month - 1) // 3 + 1}/{day.year}"
        elif kind == LAUNCH:
            suffix = ""
        else:
            sessions[title] = number = sessions.get(title, 0) + 1
            suffix = f" #{number}"
        event = Event(
            id=self._next_id(step), organization=organization,
            name={lang: titles[lang] + suffix for lang in languages},
            description={lang: KIND_DESCRIPTIONS[kind][lang] for lang in languages}
            if rng.random() < DESCRIPTION_RATE else {},
            public_name={lang: titles[lang] for lang in languages} if rng.random() < PUBLIC_NAME_RATE else {},
            start=start, duration=duration, start_public=start_public, duration_public=duration_public,
            default_language=default, languages=list(languages), theme=rng.choice(THEMES),
            title=title, suffix=suffix,
        )
        if rng.random() < GDPR_RATE:
            event.gdpr = {
                key: {lang: GDPR_TEXTS[key][lang].format(year=day.year) for lang in languages} for key in GDPR_KEYS
            }
        self._add_main_room(event, self._next_service(rng.randint(*SERVICE_ID_STEP)))
        if rng.random() < MULTIROOM_RATE:
            for catalogue in rng.sample(range(len(ROOM_NAMES)), rng.randint(*EXTRA_ROOMS)):
                self._draw_room(rng, event, catalogue)
        self.events[event.id] = event
        return event

    def _add_main_room(self, event: Event, service_id: int) -> None:
        room = Room(
            id=self._next_id(), event_id=event.id, name=dict(MAIN_ROOM_TEXTS["name"]),
            description=dict(MAIN_ROOM_TEXTS["description"]), public_name=dict(MAIN_ROOM_TEXTS["publicName"]),
            start=event.start, duration=event.duration, start_public=None, duration_public=None,
            theme=event.theme, service_id=service_id,
        )
        event.main_room_id = room.id
        self._attach(event, room)

    def _draw_room(self, rng: random.Random, event: Event, catalogue: int) -> Room:
        """A room from the catalogue inside the event's span."""
        quarters = event.duration // QUARTER
        offset = rng.randint(0, max(quarters - 2, 0))
        duration = QUARTER * rng.randint(2, quarters - offset)
        start = event.start + 1000 * QUARTER * offset
        start_public = duration_public = None
        if rng.random() < ROOM_PUBLIC_TIMES_RATE:
            delay = 60 * rng.choice(PUBLIC_DELAY_MINUTES[:4])
            start_public = start + 1000 * delay
            duration_public = max(duration - delay, 300)
        languages = [lang for lang in event.languages if lang in event.name] or [event.default_language]
        names = ROOM_NAMES[catalogue]
        titles = TITLES[event.title][1] if event.title >= 0 else event.name
        room = Room(
            id=self._next_id(rng.randint(*ROOM_ID_STEP)), event_id=event.id,
            name={lang: names[lang] for lang in languages},
            description={lang: f"{names[lang]} – {titles[lang]}" if titles.get(lang) else names[lang]
                         for lang in languages} if rng.random() < ROOM_DESCRIPTION_RATE else {},
            public_name={lang: names[lang] for lang in languages} if rng.random() < ROOM_PUBLIC_NAME_RATE else {},
            start=start, duration=duration, start_public=start_public, duration_public=duration_public,
            theme=event.theme, service_id=self._next_service(rng.randint(*SERVICE_ID_STEP)), catalogue=catalogue,
        )
        self._attach(event, room)
        return room

    def _attach(self, event: Event, room: Room) -> None:
        event.rooms.insert(0, room)
        self._rooms[room.id] = room

    # ---- simulated time -------------------------------------------------

    def _advance_one_day(self) -> dict[str, int]:
        rng = random.Random(f"icareus:{self.seed}:{self.scale}:{self.event_count}:day:{self.today.isoformat()}")
        now = _epoch_ms(self.now)

        def future() -> list[Event]:
            return [e for e in self.events.values() if e.organization == self.organization_id and e.start > now]

        modified = 0
        candidates = future()
        for event in rng.sample(candidates, min(rng.randint(*self._modified_per_day), len(candidates))):
            change = rng.randrange(3)
            if change == 0:
                self._rename_event(rng, event)
            elif change == 1:
                self._move_event(rng, event, now)
            else:
                extra = QUARTER * rng.randint(*EXTEND_QUARTERS)
                main = self._rooms[event.main_room_id]
                if main.end == event.end:
                    main.duration += extra  # the main room keeps spanning the event
                event.duration += extra
                if event.duration_public is not None and rng.random() < 0.5:
                    event.duration_public += extra
            modified += 1

        added: set[int] = set()
        candidates = future()
        for event in rng.sample(candidates, min(rng.randint(*self._added_rooms_per_day), len(candidates))):
            used = {room.catalogue for room in event.rooms}
            free = [i for i in range(len(ROOM_NAMES)) if i not in used]
            if free:
                added.add(self._draw_room(rng, event, rng.choice(free)).id)

        deleted = 0
        candidates = [e for e in future() if any(r.id != e.main_room_id and r.id not in added for r in e.rooms)]
        for event in rng.sample(candidates, min(rng.randint(*self._deleted_rooms_per_day), len(candidates))):
            extra_rooms = [r for r in event.rooms if r.id != event.main_room_id and r.id not in added]
            self._detach(event, rng.choice(extra_rooms))
            deleted += 1

        renamed = 0
        candidates = future()
        for event in rng.sample(candidates, min(rng.randint(*self._modified_rooms_per_day), len(candidates))):
            room = rng.choice([r for r in event.rooms if r.id not in added])
            tag = rng.choice([i for i in range(len(RENAME_TAGS)) if i != room.tag])
            room.tag = tag
            room.name = {
                lang: f"{ROOM_NAMES[room.catalogue][lang] if room.catalogue >= 0 else text.split(' – ')[0]}"
                      f" – {RENAME_TAGS[tag][lang]}"
                for lang, text in room.name.items()
            }
            renamed += 1
        return {"modified_events": modified, "added_rooms": len(added), "deleted_rooms": deleted,
                "modified_rooms": renamed}

    def _rename_event(self, rng: random.Random, event: Event) -> None:
        """A new translation when one is missing (and known), else a changed text."""
        missing = [lang for lang in LANGUAGES if lang not in event.name]
        if event.title >= 0 and missing and rng.random() < 0.5:
            lang = rng.choice(missing)
            kind, titles = TITLES[event.title]
            tag = f" – {RENAME_TAGS[event.tag][lang]}" if event.tag >= 0 else ""
            event.name[lang] = titles[lang] + event.suffix + tag
            if event.public_name:
                event.public_name[lang] = titles[lang]
            if event.description:
                event.description[lang] = KIND_DESCRIPTIONS[kind][lang]
            if lang not in event.languages:
                event.languages.append(lang)
            return
        event.tag = rng.choice([i for i in range(len(RENAME_TAGS)) if i != event.tag])
        titles = TITLES[event.title][1] if event.title >= 0 else {}
        for lang, text in list(event.name.items()):
            base = titles[lang] + event.suffix if lang in titles else text.split(" – ")[0]
            event.name[lang] = f"{base} – {RENAME_TAGS[event.tag][lang]}"

    @staticmethod
    def _move_event(rng: random.Random, event: Event, now: int) -> None:
        delta = 60_000 * 15 * rng.randint(*MOVE_QUARTERS) * rng.choice((-1, 1))
        if event.start + delta <= now:
            delta = -delta
        event.start += delta
        if event.start_public is not None:
            event.start_public += delta
        for room in event.rooms:
            room.start += delta
            if room.start_public is not None:
                room.start_public += delta

    def _detach(self, event: Event, room: Room) -> None:
        event.rooms.remove(room)
        del self._rooms[room.id]

    # ---- HTTP -----------------------------------------------------------

    @synchronized
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SandboxResponse:
        self.requests_served += 1
        if self._failure is not None:
            status, message = self._failure
            self._failure = None
            return _error(status, message)
        method = method.upper()
        path = path.rstrip("/") or "/"
        try:
            allowed = ROUTE_METHODS.get(path)
            if allowed is None:
                raise ApiError(404, f"No such resource: {_echo(path)}")
            if method not in allowed:
                raise ApiError(405, f"Method {_echo(method)} is not allowed", {"Allow": ", ".join(allowed)})
            payload, organization = self._authenticate(method, path, query, headers, body)
            return self._routes[(path, method)](organization, query, payload)
        except ApiError as error:
            return error.response()

    def _handlers(self) -> dict[tuple[str, str], Handler]:
        unsupported_participants = _unsupported("The participant API is currently unsupported")
        unsupported_images = _unsupported("The event images API is currently unsupported in this sandbox")
        return {
            (EVENT_PATH, "GET"): self._get_event,
            (EVENT_PATH, "POST"): self._create_event,
            (EVENT_PATH, "PUT"): self._edit_event,
            (EVENT_PATH, "DELETE"): self._delete_event,
            (ROOM_PATH, "GET"): self._get_room,
            (ROOM_PATH, "POST"): self._create_room,
            (ROOM_PATH, "PUT"): self._edit_room,
            (ROOM_PATH, "DELETE"): self._delete_room,
            **{(PARTICIPANT_PATH, m): unsupported_participants for m in CRUD_METHODS},
            (IMAGES_PATH, "POST"): unsupported_images,
        }

    def _authenticate(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes,
    ) -> tuple[dict[str, Any], int]:
        """The JSON body (empty for GET/DELETE) and the organisation whose token signed the request."""
        scheme, _, token = _header(headers, "Authorization").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Authorization token missing")
        if not TOKEN_PATTERN.fullmatch(token):
            raise ApiError(401, "Malformed token")
        payload: dict[str, Any] = {}
        if method in ("POST", "PUT") and path != IMAGES_PATH:
            try:
                parsed = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ApiError(400, "The request body must be a JSON object") from None
            if not isinstance(parsed, dict):
                raise ApiError(400, "The request body must be a JSON object")
            payload = parsed
            organization = _organization_id(payload.get("organizationId"))
        else:
            values = [v for v in query.get("organizationId", []) if v.strip()]
            organization = _organization_id(values[0] if values else None)
        token = token.lower()
        hex_time, signed = token[:8], token[8:]
        secret = self.organizations.get(organization)
        client_ip = self.client_ip or request_peer() or DEFAULT_CLIENT_IP
        expected = signature(organization, hex_time, secret or "", client_ip)
        if secret is None or not hmac.compare_digest(signed.encode(), expected.encode()):
            raise ApiError(401, "Invalid token")
        age = time.time() - int(hex_time, 16)
        if age > self.token_tolerance:
            raise ApiError(401, "Token expired")
        if -age > self.token_tolerance:
            raise ApiError(401, "Token not yet valid")
        self.tokens_accepted.append(hex_time)
        return payload, organization

    # ---- lookups --------------------------------------------------------

    def _own_event(self, organization: int, event_id: int) -> Event:
        event = self.events.get(event_id)
        if event is None or event.organization != organization:
            raise Invalid(f"Event {event_id} not found")
        return event

    def _own_room(self, organization: int, room_id: int) -> tuple[Event, Room]:
        room = self._rooms.get(room_id)
        event = self.events.get(room.event_id) if room is not None else None
        if room is None or event is None or event.organization != organization:
            raise Invalid(f"Room {room_id} not found")
        return event, room

    # ---- events ---------------------------------------------------------

    def _get_event(self, organization: int, query: Mapping[str, list[str]], body: dict[str, Any]) -> SandboxResponse:
        event = self._own_event(organization, _query_id(query, "eventId"))
        return SandboxResponse.json({"status": "ok", "event": self._event_json(event)})

    def _delete_event(self, organization: int, query: Mapping[str, list[str]],
                      body: dict[str, Any]) -> SandboxResponse:
        event = self._own_event(organization, _query_id(query, "eventId"))
        for room in list(event.rooms):
            self._detach(event, room)
        del self.events[event.id]
        return SandboxResponse.json({"status": "ok"})

    def _create_event(self, organization: int, query: Mapping[str, list[str]],
                      body: dict[str, Any]) -> SandboxResponse:
        data = _object(body, "event")
        default = _language(data.get("defaultLanguage"), "defaultLanguage") or DEFAULT_LANGUAGE
        name = _texts(data.get("name"), "name", default, non_empty=True)
        if not name:
            raise Invalid("name is required")
        start = _integer(data.get("startTime"), "startTime", required=True, minimum=0)
        duration = _integer(data.get("duration"), "duration", required=True, minimum=1)
        start_public = _integer(data.get("startTimePublic"), "startTimePublic", required=False, minimum=0)
        duration_public = _integer(data.get("durationPublic"), "durationPublic", required=False, minimum=1)
        _check_public(start_public, duration_public)
        assert start is not None and duration is not None
        event = Event(
            id=0, organization=organization, name=name,
            description=_texts(data.get("description"), "description", default) or {},
            public_name=_texts(data.get("publicName"), "publicName", default) or {},
            start=start, duration=duration, start_public=start_public, duration_public=duration_public,
            default_language=default,
            languages=_languages(data.get("eventLanguages"), default) or [default],
            theme=_integer(data.get("eventTheme"), "eventTheme", required=False, minimum=1) or THEMES[0],
            gdpr=_gdpr(data.get("gdpr"), default),
            external_id=_string(data.get("externalId"), "externalId"),
            thumbnail=_string(data.get("eventThumbnail"), "eventThumbnail"),
        )
        event.id = self._next_id()
        self._add_main_room(event, self._next_service())
        self.events[event.id] = event
        return SandboxResponse.json({"status": "ok", "event": self._event_json(event)})

    def _edit_event(self, organization: int, query: Mapping[str, list[str]], body: dict[str, Any]) -> SandboxResponse:
        event = self._own_event(organization, _body_id(body, "eventId"))
        data = _object(body, "event")
        default = _language(data.get("defaultLanguage"), "defaultLanguage") or event.default_language
        texts = {key: _texts(data.get(key), key, default, non_empty=key == "name") for key in TEXT_KEYS}
        start = _integer(data.get("startTime"), "startTime", required=False, minimum=0)
        duration = _integer(data.get("duration"), "duration", required=False, minimum=1)
        start_public = _integer(data.get("startTimePublic"), "startTimePublic", required=False, minimum=0)
        duration_public = _integer(data.get("durationPublic"), "durationPublic", required=False, minimum=1)
        new_start_public = event.start_public if start_public is None else start_public
        new_duration_public = event.duration_public if duration_public is None else duration_public
        _check_public(new_start_public, new_duration_public)
        languages = _languages(data.get("eventLanguages"), default)
        theme = _integer(data.get("eventTheme"), "eventTheme", required=False, minimum=1)
        gdpr = _gdpr(data.get("gdpr"), default)
        external_id = _string(data.get("externalId"), "externalId")
        thumbnail = _string(data.get("eventThumbnail"), "eventThumbnail")
        # Everything is valid: apply.
        event.default_language = default
        event.name = {**event.name, **(texts["name"] or {})}
        event.description = {**event.description, **(texts["description"] or {})}
        event.public_name = {**event.public_name, **(texts["publicName"] or {})}
        event.start = event.start if start is None else start
        event.duration = event.duration if duration is None else duration
        event.start_public, event.duration_public = new_start_public, new_duration_public
        event.languages = _with_default(languages if languages is not None else event.languages, default)
        event.theme = event.theme if theme is None else theme
        if gdpr is not None:
            event.gdpr = _merge_gdpr(event.gdpr, gdpr)
        event.external_id = event.external_id if external_id is None else external_id
        event.thumbnail = event.thumbnail if thumbnail is None else thumbnail
        return SandboxResponse.json({"status": "ok", "event": self._event_json(event)})

    # ---- rooms ----------------------------------------------------------

    def _get_room(self, organization: int, query: Mapping[str, list[str]], body: dict[str, Any]) -> SandboxResponse:
        _, room = self._own_room(organization, _query_id(query, "roomId"))
        return SandboxResponse.json({"status": "ok", "room": self._room_json(room)})

    def _delete_room(self, organization: int, query: Mapping[str, list[str]], body: dict[str, Any]) -> SandboxResponse:
        event, room = self._own_room(organization, _query_id(query, "roomId"))
        if room.id == event.main_room_id:
            raise Invalid("The main room of an event cannot be deleted")
        self._detach(event, room)
        return SandboxResponse.json({"status": "ok"})

    def _create_room(self, organization: int, query: Mapping[str, list[str]], body: dict[str, Any]) -> SandboxResponse:
        event = self._own_event(organization, _body_id(body, "eventId"))
        data = _object(body, "room")
        language = event.default_language
        name = _texts(data.get("name"), "name", language, non_empty=True)
        if not name:
            raise Invalid("name is required")
        start = _integer(data.get("startTime"), "startTime", required=True, minimum=0)
        duration = _integer(data.get("duration"), "duration", required=True, minimum=1)
        start_public = _integer(data.get("startTimePublic"), "startTimePublic", required=False, minimum=0)
        duration_public = _integer(data.get("durationPublic"), "durationPublic", required=False, minimum=1)
        assert start is not None and duration is not None
        room = Room(
            id=0, event_id=event.id, name=name,
            description=_texts(data.get("description"), "description", language) or {},
            public_name=_texts(data.get("publicName"), "publicName", language) or {},
            start=start, duration=duration, start_public=start_public, duration_public=duration_public,
            theme=_integer(data.get("eventTheme"), "eventTheme", required=False, minimum=1) or event.theme,
            service_id=_integer(data.get("serviceId"), "serviceId", required=False, minimum=1) or 0,
        )
        self._check_room(event, room)
        room.id = self._next_id()
        room.service_id = room.service_id or self._next_service()
        self._attach(event, room)
        return SandboxResponse.json({"status": "ok", "event": self._event_json(event)})

    def _edit_room(self, organization: int, query: Mapping[str, list[str]], body: dict[str, Any]) -> SandboxResponse:
        event, room = self._own_room(organization, _body_id(body, "roomId"))
        data = _object(body, "room")
        language = event.default_language
        texts = {key: _texts(data.get(key), key, language, non_empty=key == "name") for key in TEXT_KEYS}
        start = _integer(data.get("startTime"), "startTime", required=False, minimum=0)
        duration = _integer(data.get("duration"), "duration", required=False, minimum=1)
        start_public = _integer(data.get("startTimePublic"), "startTimePublic", required=False, minimum=0)
        duration_public = _integer(data.get("durationPublic"), "durationPublic", required=False, minimum=1)
        theme = _integer(data.get("eventTheme"), "eventTheme", required=False, minimum=1)
        service_id = _integer(data.get("serviceId"), "serviceId", required=False, minimum=1)
        changed = Room(
            id=room.id, event_id=room.event_id,
            name={**room.name, **(texts["name"] or {})},
            description={**room.description, **(texts["description"] or {})},
            public_name={**room.public_name, **(texts["publicName"] or {})},
            start=room.start if start is None else start,
            duration=room.duration if duration is None else duration,
            start_public=room.start_public if start_public is None else start_public,
            duration_public=room.duration_public if duration_public is None else duration_public,
            theme=room.theme if theme is None else theme,
            service_id=room.service_id if service_id is None else service_id,
            catalogue=room.catalogue, tag=room.tag,
        )
        if any(value is not None for value in (start, duration, start_public, duration_public, service_id)):
            self._check_room(event, changed)
        position = event.rooms.index(room)
        event.rooms[position] = self._rooms[room.id] = changed
        return SandboxResponse.json({"status": "ok", "room": self._room_json(changed)})

    def _check_room(self, event: Event, room: Room) -> None:
        if room.start < event.start:
            raise Invalid("startTime of the room cannot be before the event's startTime")
        if room.end > event.end:
            raise Invalid("The room cannot end after the event: startTime + duration is after the event's end")
        if room.start_public is not None and room.start_public < room.start:
            raise Invalid("startTimePublic cannot be before startTime")
        _check_public(room.start_public, room.duration_public)
        if room.service_id:
            for other in self._rooms.values():
                if (other.id != room.id and other.service_id == room.service_id
                        and self.events[other.event_id].organization == event.organization
                        and other.start < room.end and room.start < other.end):
                    raise Invalid(f"serviceId {room.service_id} is used by room {other.id} at the same time")

    # ---- JSON -----------------------------------------------------------

    def _event_json(self, e: Event) -> dict[str, Any]:
        out: dict[str, Any] = {
            "restrictions": [],
            "isMultiroom": len(e.rooms) > 1,
            "mainEventRoomId": e.main_room_id,
            "embedUrl": f"{EMBED_URL}?eventId={e.id}",
        }
        if e.start_public is not None:
            out["startTimePublic"] = e.start_public
        out["defaultLanguage"] = e.default_language
        if e.duration_public is not None:
            out["durationPublic"] = e.duration_public
        out.update({
            "publishingInfo": {"serviceId": 0, "ingestUrl": ""},
            "startTime": e.start,
            "eventTheme": e.theme,
            "duration": e.duration,
            "eventLanguages": list(e.languages),
            "eventId": e.id,
            "serviceId": 0,
            "publicName": dict(e.public_name),
            "description": dict(e.description),
            "name": dict(e.name),
            "accessControls": [],
        })
        if e.gdpr is not None:
            out["gdpr"] = {key: dict(texts) for key, texts in e.gdpr.items()}
        out["categories"] = []
        if e.external_id is not None:
            out["externalId"] = e.external_id
        if e.thumbnail is not None:
            out["eventThumbnail"] = e.thumbnail
        out["rooms"] = [self._room_json(room) for room in e.rooms]
        return self.profile.thin(out, EVENT_SHAPE)

    def _room_json(self, r: Room) -> dict[str, Any]:
        out: dict[str, Any] = {
            "eventTheme": r.theme,
            "startTime": r.start,
            "duration": r.duration,
            "recordings": [],
            "serviceId": r.service_id,
            "eventId": r.event_id,
        }
        if r.start_public is not None:
            out["startTimePublic"] = r.start_public
        if r.duration_public is not None:
            out["durationPublic"] = r.duration_public
        out.update({
            "description": dict(r.description),
            "publicName": dict(r.public_name),
            "name": dict(r.name),
            "embedUrl": f"{EMBED_URL}?eventId={r.event_id}&roomId={r.id}",
            "roomId": r.id,
            "publishingInfo": {"ingestUrl": INGEST_URL, "streamName": r.service_id},
        })
        return self.profile.thin(out, ROOM_SHAPE)


def _unsupported(message: str) -> Handler:
    def answer(organization: int, query: Mapping[str, list[str]], body: dict[str, Any]) -> SandboxResponse:
        return _error(200, message)

    return answer


# The app `sandboxes.registry` serves for this vendor.
SANDBOX = IcareusSandbox
