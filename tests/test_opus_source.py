"""The OPUS source on its own: pagination quirks and incremental reads over several days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dlt
import duckdb
import httpx
import pytest

from pipelines.http import RetryPolicy, VendorClient, VendorResponseError
from pipelines.opus import opus_source
from pipelines.opus.helpers import keyed_object_to_list, paginate
from sandboxes.opus import DEMO_API_KEY, OpusSandbox
from sandboxes.server import SandboxServer
from tests.conftest import SANDBOX_START
from tests.opus_crawl import crawl


def _client(handler) -> VendorClient:
    return VendorClient("opus", "OPUS DX", "http://opus.test", params={"api_key": "k-123456"},
                        transport=httpx.MockTransport(handler), retry=RetryPolicy(attempts=1))


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{"id": str(i)} for i in range(start, start + n)]


def test_paginate_follows_the_limit_the_server_applied_not_the_one_asked():
    total = 23

    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        offset = int(query["offset"][0])
        applied = 10  # the server caps whatever limit was asked for
        page = _rows(min(applied, total - offset), offset)
        return httpx.Response(200, json={"total records": total, "limit": str(applied),
                                         "offset": offset, "registrants": page})

    pages = list(paginate(_client(handler), "/x", "registrants", page_size=500))
    assert [len(p) for p in pages] == [10, 10, 3]
    assert [r["id"] for p in pages for r in p] == [str(i) for i in range(total)]


def test_paginate_unwraps_the_events_array_and_stops_on_a_short_page():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url)
        offset = int(parse_qs(urlsplit(str(request.url)).query)["offset"][0])
        page = _rows(5, offset) if offset < 10 else _rows(2, offset)
        # total_records as an empty string, as the doc's example shows it
        return httpx.Response(200, json=[{"total_records": "", "limit": "5", "offset": str(offset),
                                          "events ": page}])

    pages = list(paginate(_client(handler), "/rest/api/v1/events", "events", page_size=5))
    assert [len(p) for p in pages] == [5, 5, 2]
    assert len(calls) == 3


def test_an_empty_events_array_is_an_empty_list():
    client = _client(lambda request: httpx.Response(200, json=[]))
    assert list(paginate(client, "/rest/api/v1/events", "events")) == []


def test_a_missing_list_is_an_error_naming_vendor_endpoint_and_field():
    client = _client(lambda request: httpx.Response(200, json={"total_records": 3, "rows": []}))
    with pytest.raises(VendorResponseError) as error:
        list(paginate(client, "/rest/api/v1/events/registrants", "registrants"))
    message = str(error.value)
    assert "OPUS DX" in message and "/rest/api/v1/events/registrants" in message
    assert "'registrants'" in message and "k-123456" not in message


def test_objects_keyed_by_id_become_lists():
    questions = {"16": {"label": "Job"}, "9": {"label": "Company"}}
    assert keyed_object_to_list(questions, "question_id") == [
        {"label": "Job", "question_id": "16"},
        {"label": "Company", "question_id": "9"},
    ]
    assert keyed_object_to_list([], "question_id") == []


class RecordingSandbox(OpusSandbox):
    """The OPUS sandbox, remembering every request's path and query."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.requests: list[tuple[str, dict[str, list[str]]]] = []

    def handle(self, method, path, query, headers, body):
        self.requests.append((path, query))
        return super().handle(method, path, query, headers, body)


def _run(pipeline: dlt.Pipeline, server: SandboxServer) -> None:
    api_key = server.app.settings(server.base_url)["SOURCES__OPUS__API_KEY"]
    source = opus_source(base_url=server.base_url, api_key=api_key, as_of=server.app.today.isoformat())
    pipeline.run(source, loader_file_format="parquet")


def _registrant_event_ids(sandbox: RecordingSandbox) -> set[str]:
    return {q["event_id"][0] for p, q in sandbox.requests if p.endswith("/registrants")}


def test_incremental_reads_over_several_days(tmp_path: Path):
    sandbox = RecordingSandbox(seed=11, scale="small", start_date=SANDBOX_START)
    warehouse = tmp_path / "opus.duckdb"
    pipeline = dlt.pipeline("opus_days", destination=dlt.destinations.duckdb(str(warehouse)),
                            dataset_name="raw_opus", pipelines_dir=str(tmp_path / "dlt"))
    with SandboxServer(sandbox) as server:
        _run(pipeline, server)
        first_event_requests = [q for p, q in sandbox.requests if p == "/rest/api/v1/events"]
        assert all("date_filter_type" not in q for q in first_event_requests)  # full backfill
        ever_listed: set[tuple[str, str]] = set()

        for _day in range(1, 4):
            api_before = crawl(server.base_url, DEMO_API_KEY)
            ever_listed |= api_before["registrations"]
            httpx.post(f"{server.base_url}/_sandbox/advance", params={"days": 1}).raise_for_status()
            sandbox.requests.clear()
            _run(pipeline, server)

            updated = [q for p, q in sandbox.requests
                       if p == "/rest/api/v1/events" and q.get("date_filter_type") == ["updated_at"]]
            # The cursor is the previous run's date minus the one-day lookback.
            expected_since = (sandbox.today - dt.timedelta(days=2)).isoformat()
            assert updated and updated[0]["start_date"] == [expected_since]

            api = crawl(server.base_url, DEMO_API_KEY)
            ever_listed |= api["registrations"]
            with duckdb.connect(str(warehouse), read_only=True) as con:
                current = set(con.execute(
                    "select event_id, registration_id from raw_opus.registrants "
                    "where _dlt_valid_to is null").fetchall())
                retired = set(con.execute(
                    "select event_id, registration_id from raw_opus.registrants "
                    "group by all having count(_dlt_valid_to) = count(*)").fetchall())
            assert current == api["registrations"]
            # What vanished is kept, retired: nothing the API ever listed is lost.
            assert retired == ever_listed - api["registrations"]
            assert current | retired == ever_listed


def test_old_events_leave_the_active_window(tmp_path: Path):
    sandbox = RecordingSandbox(seed=11, scale="small", start_date=SANDBOX_START)
    pipeline = dlt.pipeline("opus_window", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="raw_opus", pipelines_dir=str(tmp_path / "dlt"))
    with SandboxServer(sandbox) as server:
        _run(pipeline, server)
        long_over = {
            str(e["id"])
            for e in httpx.get(f"{server.base_url}/rest/api/v1/events",
                               params={"api_key": DEMO_API_KEY, "limit": 1000}).json()[0]["events"]
            if e["end_date"][:10] < (sandbox.today - dt.timedelta(days=31)).isoformat()
        }
        assert long_over, "the sandbox should have events that ended more than 30 days ago"
        httpx.post(f"{server.base_url}/_sandbox/advance", params={"days": 1}).raise_for_status()
        sandbox.requests.clear()
        _run(pipeline, server)
        untouched = long_over - _updated_event_ids(sandbox, server)
        cursor = pipeline.state["sources"]["opus"]["resources"]["events"]["last_run_date"]
    assert untouched, "some long-over events should not have changed"
    # Child lists are re-read for active or changed events, not for long-over, unchanged ones.
    assert _registrant_event_ids(sandbox)
    assert not _registrant_event_ids(sandbox) & untouched
    assert cursor == sandbox.today.isoformat()


def _updated_event_ids(sandbox: RecordingSandbox, server: SandboxServer) -> set[str]:
    since = (sandbox.today - dt.timedelta(days=2)).isoformat()
    events = httpx.get(f"{server.base_url}/rest/api/v1/events",
                       params={"api_key": DEMO_API_KEY, "limit": 1000,
                               "date_filter_type": "updated_at", "start_date": since}).json()[0]["events"]
    return {str(e["id"]) for e in events}
