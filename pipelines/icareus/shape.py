"""The raw tables' declared shape: every field the Icareus Suite doc prints for an event and
its rooms, with the type it lands as (names as the vendor spells them; dlt stores them in
snake case).

Times are Unix milliseconds and durations seconds, as numbers; translated texts are
`{language: text}` JSON. Declared, each column exists from the first load even when
the vendor leaves a field out, as it does for unset ones.
"""

from __future__ import annotations

from pipelines.lists import nullable

_COMMON_NUMBERS = ("startTime", "duration", "startTimePublic", "durationPublic", "eventTheme", "serviceId",
                   "eventId")
_COMMON_TRANSLATIONS = ("name", "description", "publicName")

EVENTS = {
    **nullable("bigint", (*_COMMON_NUMBERS, "mainEventRoomId")),
    **nullable("json", (*_COMMON_TRANSLATIONS, "gdpr", "restrictions", "eventLanguages", "accessControls",
                        "categories")),
    **nullable("text", ("externalId", "eventThumbnail", "embedUrl", "defaultLanguage")),
    **nullable("bool", ("isMultiroom",)),
}
ROOMS = {
    **nullable("bigint", (*_COMMON_NUMBERS, "roomId")),
    **nullable("json", (*_COMMON_TRANSLATIONS, "recordings")),
    **nullable("text", ("embedUrl",)),
}
