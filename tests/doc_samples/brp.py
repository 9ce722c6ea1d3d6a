"""BRP's sample response as its doc prints it, and the route that serves it.

The doc prints one full `<events>` answer and, in its table of tags, an example
of each tag; the full answer has no `<participants>`, which the API sends only
when asked (`includeparticipants=true`). Asked, the server adds the table's
example participant to the event: the one addition a server must make. The doc
is the only specification, so the path below is the doc's, not the source's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from tests.doc_samples.server import Answer, Handler, Request

DOC = "brp-events-xml-api.txt"

# "HTTP GET to /events", and the doc's example request is to `APIURL/events.xml`.
EVENTS_PATHS = ("/events", "/events.xml")
XML = "application/xml; charset=utf-8"

# The full sample as printed. The `...` before `</events>` stands for more events; it is
# kept because it is well-formed XML text between elements, which a reader must skip.
# The doc indents three lines with tabs, written `\t` here.
EVENTS_XML = """\
<events>
  <event>
    <id>12</id>
    <name>Swimming for toddlers</name>
    <code>2015STOD</code>
    <productid>575</productid>
    <description>This swimming course is for children 2-4 years of age with some water experience.</description>
    <lastupdate>2015-01-01 23:00</lastupdate>
    <productdescription>Swimming</productdescription>
    <numberofoccasions>60</numberofoccasions>
    <time>13:45</time>
    <startdate>2015-09-01</startdate>
    <enddate>2015-12-31</enddate>
 \t<publishstart>2015-01-01 23:00</publishstart>
 \t<publishend>2015-01-01 23:10</publishend>
    <bookableslots>12</bookableslots>
    <filledslots>12</filledslots>
    <registered>false</registered>
    <bookableearliest>
      <timepoint>
        <timestamp>1337335200</timestamp>
        <datetime>2015-05-18 12:00</datetime>
        <date>2015-05-18</date>
        <time>12:00</time>
      </timepoint>
    </bookableearliest>
    <bookablelatest>
      <timepoint>
        <timestamp>1337680800</timestamp>
        <datetime>2015-05-22 12:00</datetime>
        <date>2015-05-22</date>
        <time>12:00</time>
      </timepoint>
    </bookablelatest>
    <businessunit>
      <id>11</id>
      <name>Main Street Gym</name>
    </businessunit>
\t<orderid>105</orderid>
  </event>
 ...
</events>"""

# The `participants` row of the doc's table of tags.
PARTICIPANTS_XML = (
    "<participants><participant><personid>123</personid><firstname>Homer</firstname>"
    "<lastname>Simpson</lastname><eventbookingid>333</eventbookingid></participant></participants>"
)

# Where the participants go: last in the event, after its `<orderid>` (the tag the table
# lists just before them).
EVENT_END = "\n  </event>"
# What a request that no event matches gets: the doc's shape, with no event.
NO_EVENTS_XML = "<events>\n</events>"


@dataclass(frozen=True)
class SampleEvent:
    """What the doc's filters look at, as the sample gives it."""

    start: dt.date
    end: dt.date
    publish_start: dt.date
    publish_end: dt.date
    business_unit: str


def sample_event() -> SampleEvent:
    event = etree.fromstring(EVENTS_XML.encode()).find("event")

    def day(tag: str) -> dt.date:
        return dt.date.fromisoformat(event.findtext(tag).strip()[:10])

    return SampleEvent(day("startdate"), day("enddate"), day("publishstart"), day("publishend"),
                       event.findtext("businessunit/id").strip())


def with_participants(text: str) -> str:
    """The sample with its participants, as the API answers `includeparticipants=true`."""
    if text.count(EVENT_END) != 1:
        raise ValueError("the sample no longer has exactly one event to add participants to")
    return text.replace(EVENT_END, f"\n\t{PARTICIPANTS_XML}{EVENT_END}")


def routes(today: dt.date) -> dict[tuple[str, str], Handler]:
    """The events endpoint on both the paths the doc names; `today` is the server's date."""
    handler = events_answer(today)
    return {("GET", path): handler for path in EVENTS_PATHS}


def events_answer(today: dt.date) -> Handler:
    def handle(request: Request) -> Answer:
        if not listed(sample_event(), request.query, today):
            return Answer(NO_EVENTS_XML, content_type=XML)
        if request.query.get("includeparticipants", "").lower() == "true":
            return Answer(with_participants(EVENTS_XML), content_type=XML)
        return Answer(EVENTS_XML, content_type=XML)

    return handle


def listed(event: SampleEvent, query: Mapping[str, str], today: dt.date) -> bool:
    """Whether the doc's filters keep the sample's event."""

    def on(name: str) -> dt.date | None:
        return dt.date.fromisoformat(query[name]) if query.get(name) else None

    ongoing, starts, ends = on("ongoingdate"), on("startdate"), on("enddate")
    publish_starts, publish_ends = on("publishstartdate"), on("publishenddate")
    dated = any(day is not None for day in (ongoing, starts, ends, publish_starts, publish_ends))
    checks = (
        ongoing is None or event.start <= ongoing <= event.end,
        starts is None or event.start >= starts,
        ends is None or event.end <= ends,
        publish_starts is None or event.publish_start >= publish_starts,
        publish_ends is None or event.publish_end <= publish_ends,
        # "When none of the date filters are specified, only events that have not yet ended".
        dated or event.end >= today,
        in_business_units(event, query),
        # The sample names no product label and no booked resource: a filter on one leaves it out.
        not query.get("productlabelid") and not query.get("resourceid"),
    )
    # `bookablefrominternet` is not applied: the sample does not say whether its event is.
    return all(checks)


def in_business_units(event: SampleEvent, query: Mapping[str, str]) -> bool:
    # The doc names the filter `businessunitids` and spells its example `businessunitid`.
    ids = query.get("businessunitids") or query.get("businessunitid")
    return not ids or event.business_unit in {unit.strip() for unit in ids.split(",")}
