"""Icareus Suite's sample responses as its Event Management API doc prints them, and routes serving them.

From ``icareus-suite-event-management-api.txt``: the answers to Create Event, Edit Event,
Create Room, Edit Room and Get Room. Each is served on its documented call. Turnout reads
only Get Event (``GET /api/event``), for which the doc prints no answer; it answers with the
event as the doc last prints it whole, in the Create Room answer: the same ``{"status": "ok",
"event": {...}}`` envelope, after the Swedish texts and the second room were added. Everything
the server adds to the doc is marked "Server addition".

The doc prints each listing with a line number before every line, indented with no-break
spaces (U+00A0), which JSON does not take as white space. The samples below are copied
without the numbers and with plain spaces: the smallest change that makes them JSON a server
can send, and the only one (`listing_text` applies it to the doc, for the tests).
"""

from __future__ import annotations

import json
import re

from tests.doc_samples.server import Answer, Handler, Request

DOC = "icareus-suite-event-management-api.txt"

EVENT_PATH = "/api/event"
ROOM_PATH = "/api/event/room"
# The organisation and event of every sample; the secret and the caller's address are the
# doc's token example's.
ORGANIZATION_ID = 1909009
EVENT_ID = 3697601
SECRET = "secret"
CLIENT_IP = "185.185.165.160"

# The sample event runs on 2021-11-26 from 08:00 to 11:30 UTC (public 08:15 to 11:30). The
# load runs the morning after: the doc's last printed state is the one the event ended in, and
# its calendar status is "completed" whether read on the run's date or today.
AS_OF = "2021-11-27"

# A token: 8 hex digits of Unix seconds, then 32 of an MD5 signature.
WELL_FORMED_TOKEN = re.compile(r"[0-9a-f]{40}")
LISTING_LINE = re.compile(r"^[ \t]*\d+\. ", re.MULTILINE)

# Create Event: "Here is a sample response from the above example creation JSON".
CREATE_EVENT_ANSWER = """\
{
    "status": "ok",
    "event": {
        "restrictions": [],
        "isMultiroom": true,
        "mainEventRoomId": 3697602,
        "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601",
        "startTimePublic": 1637914500000,
        "defaultLanguage": "en_US",
        "durationPublic": 11700,
        "publishingInfo": {
            "serviceId": 0,
            "ingestUrl": ""
        },
        "startTime": 1637913600000,
        "eventTheme": 3319901,
        "duration": 12600,
        "eventLanguages": [
            "en_US",
            "fi_FI"
        ],
        "eventId": 3697601,
        "serviceId": 0,
        "publicName": {
            "en_US": "English public name",
            "fi_FI": "Finnish public name"
        },
        "description": {
            "en_US": "English description",
            "fi_FI": "Finnish description"
        },
        "name": {
            "en_US": "English name",
            "fi_FI": "Finnish name"
        },
        "accessControls": [],
        "gdpr": {
            "privacyPolicy": {
                "en_US": "English privacy policy text.",
                "fi_FI": "Finnish privacy policy text."
            },
            "copyright": {
                "en_US": "English copyright text.",
                "fi_FI": "Finnish copyright text."
            },
            "termsOfService": {
                "en_US": "English terms of service text.",
                "fi_FI": "Finnish terms of service text."
            }
        },
        "categories": [],
        "rooms": [
            {
                "eventTheme": 3319901,
                "startTime": 1637913600000,
                "duration": 12600,
                "recordings": [],
                "serviceId": 1909939,
                "eventId": 3697601,
                "description": {
                    "en_US": "This is the main room"
                },
                "publicName": {
                    "en_US": "Main room"
                },
                "name": {
                    "en_US": "Main Room"
                },
                "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601&roomId=3697602",
                "roomId": 3697602,
                "publishingInfo": {
                    "ingestUrl": "rtmp://sample.origin.icareus.com:1935/suitelive",
                    "streamName": 1909939
                }
            }
        ]
    }
}"""

# Edit Event: "Here is a sample response from updating an event with the above JSON".
EDIT_EVENT_ANSWER = """\
{
    "status": "ok",
    "event": {
        "restrictions": [],
        "isMultiroom": true,
        "mainEventRoomId": 3697602,
        "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601",
        "startTimePublic": 1637914500000,
        "defaultLanguage": "en_US",
        "durationPublic": 11700,
        "publishingInfo": {
            "serviceId": 0,
            "ingestUrl": ""
        },
        "startTime": 1637913600000,
        "eventTheme": 3319901,
        "duration": 12600,
        "eventLanguages": [
            "en_US",
            "fi_FI",
            "sv_SE"
        ],
        "eventId": 3697601,
        "serviceId": 0,
        "publicName": {
            "en_US": "English public name",
            "sv_SE": "Swedish public name",
            "fi_FI": "Finnish public name"
        },
        "description": {
            "en_US": "English description",
            "sv_SE": "Swedish description",
            "fi_FI": "Finnish description"
        },
        "name": {
            "en_US": "English name",
            "sv_SE": "Swedish name",
            "fi_FI": "Finnish name"
        },
        "accessControls": [],
        "gdpr": {
            "privacyPolicy": {
                "en_US": "English privacy policy text.",
                "fi_FI": "Finnish privacy policy text."
            },
            "copyright": {
                "en_US": "English copyright text.",
                "fi_FI": "Finnish copyright text."
            },
            "termsOfService": {
                "en_US": "English terms of service text.",
                "fi_FI": "Finnish terms of service text."
            }
        },
        "categories": [],
        "rooms": [
            {
                "eventTheme": 3319901,
                "startTime": 1637913600000,
                "duration": 12600,
                "recordings": [],
                "serviceId": 1909939,
                "eventId": 3697601,
                "description": {
                    "en_US": "This is the main room"
                },
                "publicName": {
                    "en_US": "Main room"
                },
                "name": {
                    "en_US": "Main Room"
                },
                "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601&roomId=3697602",
                "roomId": 3697602,
                "publishingInfo": {
                    "ingestUrl": "rtmp://sample.origin.icareus.com:1935/suitelive",
                    "streamName": 1909939
                }
            }
        ]
    }
}"""

# Create Room: the event "with the newly added room listed in the rooms array".
CREATE_ROOM_ANSWER = """\
{
    "status": "ok",
    "event": {
        "restrictions": [],
        "isMultiroom": true,
        "mainEventRoomId": 3697602,
        "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601",
        "startTimePublic": 1637914500000,
        "defaultLanguage": "en_US",
        "durationPublic": 11700,
        "publishingInfo": {
            "serviceId": 0,
            "ingestUrl": ""
        },
        "startTime": 1637913600000,
        "eventTheme": 3319901,
        "duration": 12600,
        "eventLanguages": [
            "en_US",
            "fi_FI",
            "sv_SE"
        ],
        "eventId": 3697601,
        "serviceId": 0,
        "publicName": {
            "en_US": "English public name",
            "sv_SE": "Swedish public name",
            "fi_FI": "Finnish public name"
        },
        "description": {
            "en_US": "English description",
            "sv_SE": "Swedish description",
            "fi_FI": "Finnish description"
        },
        "name": {
            "en_US": "English name",
            "sv_SE": "Swedish name",
            "fi_FI": "Finnish name"
        },
        "accessControls": [],
        "gdpr": {
            "privacyPolicy": {
                "en_US": "English privacy policy text.",
                "fi_FI": "Finnish privacy policy text."
            },
            "copyright": {
                "en_US": "English copyright text.",
                "fi_FI": "Finnish copyright text."
            },
            "termsOfService": {
                "en_US": "English terms of service text.",
                "fi_FI": "Finnish terms of service text."
            }
        },
        "categories": [],
        "rooms": [
            {
                "recordings": [],
                "startTimePublic": 1637914500000,
                "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601&roomId=3698301",
                "roomId": 3698301,
                "durationPublic": 11700,
                "publishingInfo": {
                    "ingestUrl": "rtmp://sample.origin.icareus.com:1935/suitelive",
                    "streamName": 2977205
                },
                "startTime": 1637913600000,
                "eventTheme": 3319901,
                "duration": 12600,
                "eventId": 3697601,
                "serviceId": 2977205,
                "publicName": {
                    "en_US": "English room public name",
                    "fi_FI": "Finnish room public name"
                },
                "description": {
                    "en_US": "English room description",
                    "fi_FI": "Finnish room description"
                },
                "name": {
                    "en_US": "English room name",
                    "fi_FI": "Finnish room name"
                }
            },
            {
                "eventTheme": 3319901,
                "startTime": 1637913600000,
                "duration": 12600,
                "recordings": [],
                "serviceId": 1909939,
                "eventId": 3697601,
                "description": {
                    "en_US": "This is the main room"
                },
                "publicName": {
                    "en_US": "Main room"
                },
                "name": {
                    "en_US": "Main Room"
                },
                "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601&roomId=3697602",
                "roomId": 3697602,
                "publishingInfo": {
                    "ingestUrl": "rtmp://sample.origin.icareus.com:1935/suitelive",
                    "streamName": 1909939
                }
            }
        ]
    }
}"""

# Edit Room: the main room after its texts were edited.
EDIT_ROOM_ANSWER = """\
{
    "status": "ok",
    "room": {
        "eventTheme": 3319901,
        "startTime": 1637913600000,
        "duration": 12600,
        "recordings": [],
        "serviceId": 1909939,
        "eventId": 3697601,
        "description": {
            "en_US": "English main room description",
            "fi_FI": "Finnish main room description"
        },
        "publicName": {
            "en_US": "English main room public name",
            "fi_FI": "Finnish main room public name"
        },
        "name": {
            "en_US": "English main room name",
            "fi_FI": "Finnish main room name"
        },
        "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601&roomId=3697602",
        "roomId": 3697602,
        "publishingInfo": {
            "ingestUrl": "rtmp://sample.origin.icareus.com:1935/suitelive",
            "streamName": 1909939
        }
    }
}"""

# Get Room: "a JSON object with status ok and an object 'room' representing a single Room".
GET_ROOM_ANSWER = """\
{
    "status": "ok",
    "room": {
        "eventTheme": 3319901,
        "startTime": 1637913600000,
        "duration": 12600,
        "recordings": [],
        "serviceId": 1909939,
        "eventId": 3697601,
        "description": {
            "en_US": "English main room description",
            "fi_FI": "Finnish main room description"
        },
        "publicName": {
            "en_US": "English main room public name",
            "fi_FI": "Finnish main room public name"
        },
        "name": {
            "en_US": "English main room name",
            "fi_FI": "Finnish main room name"
        },
        "embedUrl": "https://suiterc.icareus.com/web/test-account/player/embed/event/view?eventId=3697601&roomId=3697602",
        "roomId": 3697602,
        "publishingInfo": {
            "ingestUrl": "rtmp://sample.origin.icareus.com:1935/suitelive",
            "streamName": 1909939
        }
    }
}"""

# Every sample above, each the doc's listing with only the change the module names.
VERBATIM = {
    "create event": CREATE_EVENT_ANSWER,
    "edit event": EDIT_EVENT_ANSWER,
    "create room": CREATE_ROOM_ANSWER,
    "edit room": EDIT_ROOM_ANSWER,
    "get room": GET_ROOM_ANSWER,
}
# What Get Event answers: the event as the doc last prints it whole.
EVENT_ANSWER = CREATE_ROOM_ANSWER


def listing_text(doc: str) -> str:
    """The doc with its listings' line numbers dropped and no-break spaces made plain spaces."""
    return LISTING_LINE.sub("", doc).replace("\u00a0", " ")


def settings(origin: str) -> dict[str, str]:
    """The environment a run needs to load the sample event from the server at `origin`."""
    return {
        "SOURCES__ICAREUS__BASE_URL": origin,
        "SOURCES__ICAREUS__ORGANIZATION_ID": str(ORGANIZATION_ID),
        "SOURCES__ICAREUS__SECRET": SECRET,
        "SOURCES__ICAREUS__CLIENT_IP": CLIENT_IP,
        "SOURCES__ICAREUS__EVENT_IDS": str(EVENT_ID),
    }


def routes() -> dict[tuple[str, str], Handler]:
    """Every call the doc prints an answer for, and Get Event."""
    return {
        ("GET", EVENT_PATH): signed_only(get_event),
        ("POST", EVENT_PATH): signed_only(constant(CREATE_EVENT_ANSWER)),
        ("PUT", EVENT_PATH): signed_only(constant(EDIT_EVENT_ANSWER)),
        ("POST", ROOM_PATH): signed_only(constant(CREATE_ROOM_ANSWER)),
        ("PUT", ROOM_PATH): signed_only(constant(EDIT_ROOM_ANSWER)),
        ("GET", ROOM_PATH): signed_only(constant(GET_ROOM_ANSWER)),
    }


def get_event(request: Request) -> Answer:
    """The sample event, asked for by its id and its organisation's, as the doc's parameters say."""
    asked = (request.query.get("eventId"), request.query.get("organizationId"))
    if asked != (str(EVENT_ID), str(ORGANIZATION_ID)):
        # Server addition: the doc prints no answer for an event it does not hold; this one
        # uses the `status`/`message` envelope its answers carry.
        return Answer(json.dumps({"status": "error", "message": "Event not found"}), 404)
    return Answer(EVENT_ANSWER)


def constant(answer: str) -> Handler:
    def handle(request: Request) -> Answer:
        return Answer(answer)

    return handle


def signed_only(handler: Handler) -> Handler:
    """Answers calls that carry a well-formed token. The doc sample server does not check the
    signature: it accepts any 40 hex digits, so the tests need no clock or address of their own."""

    def handle(request: Request) -> Answer:
        scheme, _, token = (header(request, "Authorization") or "").partition(" ")
        if scheme != "Bearer" or not WELL_FORMED_TOKEN.fullmatch(token):
            # Server addition: the doc requires the token but prints no refusal.
            return Answer(json.dumps({"status": "error", "message": "Invalid token"}), 401)
        return handler(request)

    return handle


def header(request: Request, name: str) -> str | None:
    return next((value for key, value in request.headers.items() if key.lower() == name.lower()), None)
