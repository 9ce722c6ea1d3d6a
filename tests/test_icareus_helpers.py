"""The Icareus token and payload helpers on their own."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from pipelines.http import Redactor
from pipelines.icareus import helpers
from pipelines.icareus.helpers import SignedToken, sign_token
from tests.icareus_crawl import token as crawl_token


def test_the_documented_example_token_is_reproduced_exactly():
    # 27.05.2021 05:00:00 UTC, given in the doc as 1622091600000 milliseconds.
    assert sign_token(13509, "secret", "185.185.165.160", 1622091600000 / 1000) == (
        "60af27507c39fec85881c1d8ebb0064b83f5edd8")


def test_the_source_and_the_independent_signer_agree():
    for seconds in (0, 1_700_000_000, 4_000_000_000):
        assert sign_token(1909009, "s3cr3t", "10.1.2.3", seconds) == crawl_token(1909009, "s3cr3t", "10.1.2.3", seconds)
    assert sign_token(1909009, "s3cr3t", "10.1.2.3", 1_700_000_000) != sign_token(1909009, "other", "10.1.2.3", 1_700_000_000)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_token_is_signed_again_once_it_is_older_than_the_reuse_interval():
    clock = FakeClock(1_700_000_000.4)
    auth = SignedToken(1909009, "s3cr3t", "10.1.2.3", clock=clock, reuse_seconds=30)
    first = auth.current_token()
    assert first[:8] == format(1_700_000_000, "08x")
    clock.now += 29
    assert auth.current_token() == first
    clock.now += 1
    second = auth.current_token()
    assert second != first and int(second[:8], 16) == 1_700_000_030
    assert auth.tokens_signed == 2


def test_every_token_signed_is_redacted():
    redactor = Redactor()
    auth = SignedToken(1909009, "s3cr3t", "10.1.2.3", clock=FakeClock(1_700_000_000))
    auth.redactors.append(redactor)
    signed = auth.current_token()
    assert redactor.redact(f"Authorization: Bearer {signed}") == "Authorization: Bearer ***"


def _skewed_vendor(vendor_clock: FakeClock, tolerance: float = 60):
    """A vendor that checks token times against its own clock and says its time in `Date`."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        signed = request.headers["Authorization"].removeprefix("Bearer ")
        seen.append(signed)
        date = {"Date": email.utils.formatdate(vendor_clock.now, usegmt=True)}
        if signed != crawl_token(1909009, "s3cr3t", "10.1.2.3", int(signed[:8], 16)):
            return httpx.Response(401, headers=date, json={"status": "error", "message": "Invalid token"})
        if abs(int(signed[:8], 16) - vendor_clock.now) > tolerance:
            return httpx.Response(401, headers=date, json={"status": "error", "message": "Token expired"})
        return httpx.Response(200, json={"status": "ok"})

    return handler, seen


def test_a_401_from_a_vendor_whose_clock_differs_signs_by_the_vendors_clock_from_then_on():
    local, vendor = FakeClock(1_700_000_000), FakeClock(1_700_000_000 + 600)
    handler, seen = _skewed_vendor(vendor)
    auth = SignedToken(1909009, "s3cr3t", "10.1.2.3", clock=local)
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get("https://icareus.test/api/event").status_code == 200
        assert auth.offset == 600
        assert client.get("https://icareus.test/api/event").status_code == 200
    # One rejected token, then tokens on the vendor's time only.
    assert [int(signed[:8], 16) - 1_700_000_000 for signed in seen] == [0, 600, 600]


def test_a_rejected_signature_is_signed_anew_a_few_times_and_then_answered_as_the_vendor_did():
    vendor = FakeClock(1_700_000_000)
    handler, seen = _skewed_vendor(vendor)
    auth = SignedToken(1909009, "wrong", "10.1.2.3", clock=FakeClock(1_700_000_000))
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get("https://icareus.test/api/event").status_code == 401
    assert len(seen) == 1 + helpers.RENEWALS_ON_401 and auth.offset == 0


@pytest.mark.parametrize("value, expected", [
    ("3697601", [3697601]),
    ("3697601,3697655, 3697700", [3697601, 3697655, 3697700]),
    ("[3697601, 3697655]", [3697601, 3697655]),
    ([3697601, "3697655", 3697601], [3697601, 3697655]),
])
def test_event_ids_are_read_from_text_or_a_list(value, expected):
    assert helpers.parse_event_ids(value, "SOURCES__ICAREUS__EVENT_IDS") == expected


@pytest.mark.parametrize("value", ["", "[]", "12,abc", "-5", "0"])
def test_bad_event_ids_name_the_setting(value):
    with pytest.raises(ValueError, match="SOURCES__ICAREUS__EVENT_IDS"):
        helpers.parse_event_ids(value, "SOURCES__ICAREUS__EVENT_IDS")


def test_the_client_ip_and_organization_id_must_be_what_they_say():
    assert helpers.parse_client_ip(" 203.0.113.7 ", "X") == "203.0.113.7"
    assert helpers.parse_client_ip("2001:db8::1", "X") == "2001:db8::1"
    with pytest.raises(ValueError, match="SOURCES__ICAREUS__CLIENT_IP.*public address"):
        helpers.parse_client_ip("my-laptop", "SOURCES__ICAREUS__CLIENT_IP")
    assert helpers.parse_organization_id("1909009", "X") == 1909009
    with pytest.raises(ValueError, match="SOURCES__ICAREUS__ORGANIZATION_ID"):
        helpers.parse_organization_id("org-1", "SOURCES__ICAREUS__ORGANIZATION_ID")


def test_a_plain_string_text_belongs_to_the_default_language_and_publishing_details_are_dropped():
    room = {"roomId": 5, "name": "Main Room", "description": {"en_US": "Hi", "fi_FI": "Hei"},
            "publishingInfo": {"ingestUrl": "rtmp://ingest.example/live", "streamName": 77}}
    assert helpers.clean(room, "fi_FI") == {"roomId": 5, "name": {"fi_FI": "Main Room"},
                                            "description": {"en_US": "Hi", "fi_FI": "Hei"}}


def test_the_vendors_error_body_is_described_in_one_line():
    assert helpers.describe_error('{"status": "error", "message": "Invalid token"}') == (
        'status "error": Invalid token')
    assert helpers.describe_error("<html>oops</html>") is None


def test_an_event_ends_after_its_duration_in_seconds():
    assert helpers.end_ms({"startTime": 1637913600000, "duration": 12600}) == 1637913600000 + 12_600_000
    assert helpers.end_ms({"startTime": 1637913600000}) is None
