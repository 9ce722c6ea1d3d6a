"""`turnout dashboard`: the page on the reporting tables, and how it shares the warehouse with loads."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx
import pytest
from lxml import html as lxml_html

from assets import dashboard
from assets.cli import main

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
PLOTLY_CHARTS = ("registration-curve", "attendance-by-vendor-month", "session-minutes")

# A few rows in the reporting tables' shape: an OPUS event with a name that
# looks like markup, an EventBookings event with orders, an Icareus event
# with no figures at all (NULL: the vendor cannot give them), a BRP event with
# registrations but no attendance (BRP records none), and two events still to
# come, one of them with tickets already sold. The reports were judged at
# 2026-05-01 00:00 UTC (rpt_event_attendance.as_of): all but the last two are held.
SMALL_REPORTS = """
create schema marts;
create table marts.rpt_event_attendance (
    event_key varchar, vendor varchar, vendor_event_id varchar, name varchar, starts_at timestamptz,
    ends_at timestamptz, timezone varchar, status varchar, business_unit varchar, capacity bigint,
    registrations hugeint, cancellations hugeint, places_filled bigint, fill_rate double, attendees bigint,
    no_shows bigint, attendance_rate double, no_show_rate double, cancellation_rate double,
    minutes_attended double, average_minutes_attended double, orders bigint, tickets_sold bigint,
    currency varchar, gross_revenue decimal(18,2), refunded_revenue decimal(18,2), net_revenue decimal(18,2),
    as_of timestamptz
);
insert into marts.rpt_event_attendance
    (event_key, vendor, name, starts_at, capacity, registrations, fill_rate, attendees, no_shows,
     attendance_rate, no_show_rate, minutes_attended, orders, currency, net_revenue)
values
    ('e1', 'opus', '<b>Spring</b> & <script>alert(1)</script>', '2026-03-10 09:00:00+00', 100, 40, 0.4,
     30, 10, 0.75, 0.25, 1200.0, null, null, null),
    ('e2', 'eventbookings', 'Winter Gala', '2026-02-14 18:00:00+00', 50, 20, 0.4,
     12, 8, 0.6, 0.4, null, 12, 'AUD', 345.50),
    ('e3', 'icareus', 'Board Day', '2026-04-01 08:00:00+00', null, null, null,
     null, null, null, null, null, null, 'EUR', null),
    ('e4', 'opus', 'March Meetup', '2026-03-20 17:00:00+00', 20, 10, 0.5,
     5, 5, 0.5, 0.5, 300.0, null, null, null),
    ('e5', 'eventbookings', 'Future Ball', '2099-06-01 18:00:00+00', 80, 8, 0.1,
     null, null, null, null, null, 8, 'AUD', 100.25),
    ('e6', 'opus', 'Far Future Forum', '2099-09-01 09:00:00+00', 100, 3, 0.03,
     null, null, null, null, null, null, null, null),
    ('e7', 'brp', 'Swim School', '2026-01-20 10:00:00+00', 30, 25, 0.83,
     null, null, null, null, null, null, 'SEK', null);
update marts.rpt_event_attendance set as_of = '2026-05-01 00:00:00+00';
create table marts.rpt_daily_registrations (
    event_key varchar, vendor varchar, vendor_event_id varchar, event_name varchar, day_timezone varchar, day date,
    new_registrations bigint, cancellations bigint, registered_total bigint
);
insert into marts.rpt_daily_registrations (event_key, vendor, event_name, day, registered_total) values
    ('e1', 'opus', '<b>Spring</b> & <script>alert(1)</script>', '2026-03-01', 10),
    ('e1', 'opus', '<b>Spring</b> & <script>alert(1)</script>', '2026-03-02', 25),
    ('e1', 'opus', '<b>Spring</b> & <script>alert(1)</script>', '2026-03-03', 40),
    ('e2', 'eventbookings', 'Winter Gala', '2026-02-01', 15),
    ('e2', 'eventbookings', 'Winter Gala', '2026-02-02', 20);
create table marts.rpt_session_attendance (
    session_key varchar, event_key varchar, vendor varchar, event_name varchar, session_title varchar,
    starts_at timestamptz, attendees bigint, minutes_attended double, average_minutes_attended double,
    attention_checks_passed bigint
);
insert into marts.rpt_session_attendance
    (session_key, event_key, vendor, event_name, session_title, attendees, average_minutes_attended)
values
    ('s1', 'e1', 'opus', '<b>Spring</b> & <script>alert(1)</script>', 'Keynote', 30, 42.5),
    ('s2', 'e1', 'opus', '<b>Spring</b> & <script>alert(1)</script>', 'Workshop', 12, 55.0),
    ('s3', 'e2', 'eventbookings', 'Winter Gala', 'Dinner', 12, null);
"""


def small_warehouse(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(SMALL_REPORTS)
    return path


@contextmanager
def serving(warehouse: Path) -> Iterator[dashboard.DashboardServer]:
    with dashboard.serve(warehouse, port=0) as server:
        yield server


@contextmanager
def write_lock_held(warehouse: Path) -> Iterator[None]:
    """Another process holds the warehouse open for writing, as a load does."""
    script = textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(warehouse)!r})
        print("locked", flush=True)
        sys.stdin.read()
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        yield
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def event_rows(page: str) -> list[list[str]]:
    tree = lxml_html.fromstring(page)
    return [[cell.text_content() for cell in row.xpath("./td")]
            for row in tree.xpath("//*[@id='events-table']//tbody/tr")]


def test_page_lists_events_held_newest_first_then_upcoming_soonest_first(tmp_path):
    reports = dashboard.read_reports(small_warehouse(tmp_path / "w.duckdb"))

    rows = event_rows(dashboard.render_page(reports))

    assert [row[:2] for row in rows] == [
        ["Board Day", "yes"], ["March Meetup", "yes"], ["<b>Spring</b> & <script>alert(1)</script>", "yes"],
        ["Winter Gala", "yes"], ["Swim School", "yes"], ["Future Ball", "upcoming"], ["Far Future Forum", "upcoming"]]
    gala = rows[3]
    assert gala[2:] == ["eventbookings", "2026-02-14 18:00", "20", "12", "60.0%", "40.0%", "–", "12",
                        "345.50 AUD", "40.0%"]


def test_the_summary_answers_how_the_events_did(tmp_path):
    reports = dashboard.read_reports(small_warehouse(tmp_path / "w.duckdb"))

    summary = dashboard.summarise(reports.events, reports.judged_at)

    # Held: e1-e4 and e7; Board Day (Icareus) has no registrations, and Swim School (BRP) no
    # attendance, so the rates are over e1, e2, e4 only.
    assert (summary.held, summary.upcoming, summary.registrations) == (5, 2, 95)
    assert summary.attendance_rate == pytest.approx(47 / 70) and summary.no_show_rate == pytest.approx(23 / 70)
    assert summary.net_revenue == {"AUD": 445.75}  # tickets sold for the future ball count too
    assert summary_tiles(reports) == {
        "Events held": ("5", "2 upcoming, as of 2026-05-01 00:00 UTC"),
        "Registrations": ("95", "at 4 events held (brp, eventbookings, opus)"),
        "Attendance rate": ("67.1%", "47 attendees of 70 registrations: the 3 events held at vendors that "
                                     "record attendance (eventbookings, opus)"),
        "No-show rate": ("32.9%", "23 no-shows of 70 registrations: the 3 events held at vendors that "
                                  "record attendance (eventbookings, opus)"),
        "Net revenue": ("445.75 AUD", "every event, held or upcoming, after refunds (eventbookings)"),
    }


def summary_tiles(reports: dashboard.Reports) -> dict[str, tuple[str, str]]:
    """Each headline tile's value and the note saying what it covers."""
    tiles = lxml_html.fromstring(dashboard.render_page(reports)).xpath("//*[@id='summary']/div")
    return {tile.get("data-figure"): (tile.xpath("./div[@class='value']")[0].text_content(),
                                      tile.xpath("./div[@class='note']")[0].text_content()) for tile in tiles}


def test_held_and_upcoming_follow_the_moment_the_reports_were_judged_at_not_the_clock(tmp_path):
    warehouse = small_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(warehouse)) as con:  # a run for 2026-03-14: judged at its end
        con.execute("update marts.rpt_event_attendance set as_of = '2026-03-15 00:00:00+00'")
    reports = dashboard.read_reports(warehouse)

    assert reports.judged_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    rows = event_rows(dashboard.render_page(reports))
    assert [row[:2] for row in rows] == [
        ["<b>Spring</b> & <script>alert(1)</script>", "yes"], ["Winter Gala", "yes"], ["Swim School", "yes"],
        ["March Meetup", "upcoming"], ["Board Day", "upcoming"], ["Future Ball", "upcoming"],
        ["Far Future Forum", "upcoming"]]
    assert summary_tiles(reports)["Events held"] == ("3", "4 upcoming, as of 2026-03-15 00:00 UTC")


def test_reports_that_do_not_say_when_they_were_judged_split_at_the_time_read(tmp_path):
    warehouse = small_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(warehouse)) as con:  # built before the marts recorded their moment
        con.execute("alter table marts.rpt_event_attendance drop column as_of")
    reports = dashboard.read_reports(warehouse)

    assert reports.as_of is None and reports.judged_at == reports.read_at
    assert dashboard.summarise(reports.events, reports.judged_at).held == 5


def test_page_escapes_event_and_session_names(tmp_path):
    page = dashboard.render_page(dashboard.read_reports(small_warehouse(tmp_path / "w.duckdb")))

    assert "<script>alert(1)" not in page and "<b>Spring" not in page
    assert "&lt;b&gt;Spring&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_null_figures_show_as_a_dash_never_zero(tmp_path):
    reports = dashboard.read_reports(small_warehouse(tmp_path / "w.duckdb"))

    rows = {row[0]: row for row in event_rows(dashboard.render_page(reports))}

    assert rows["Board Day"][2:] == ["icareus", "2026-04-01 08:00"] + ["–"] * 8
    assert rows["March Meetup"][9:11] == ["–", "–"]  # OPUS has no orders


def test_page_has_a_title_the_warehouse_and_the_four_sections(tmp_path):
    warehouse = small_warehouse(tmp_path / "w.duckdb")

    page = dashboard.render_page(dashboard.read_reports(warehouse))

    assert "<h1>Turnout — how did our events do</h1>" in page
    assert f"Warehouse {warehouse} · data read " in page
    for chart in ("summary", "events-table", *PLOTLY_CHARTS):
        assert f'id="{chart}"' in page
    assert "cdn" not in page.lower() and '<script src="/plotly.min.js"' in page


def test_figures_follow_the_reporting_tables(tmp_path):
    charts = dashboard.figures(dashboard.read_reports(small_warehouse(tmp_path / "w.duckdb")))

    curve = charts.registration_curve
    assert list(curve.data[0].y) == [10, 25, 40]  # the event with the most registrations first
    assert len(curve.layout.updatemenus[0].buttons) == 2
    assert curve.layout.xaxis.title.text == "day (in the event's time zone)"
    rates = {bar.name: dict(zip(bar.x, bar.y, strict=True)) for bar in charts.attendance_by_vendor_month.data}
    assert rates == {"eventbookings": {"2026-02": 0.6}, "opus": {"2026-03": 35 / 50}}  # sum/sum, not a mean
    [sessions] = charts.session_minutes.data
    assert list(sessions.y) == ["&lt;b&gt;Spring&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; — Keynote",
                                "&lt;b&gt;Spring&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; — Workshop"]
    assert list(sessions.x) == [42.5, 55.0]  # the session without minutes is left out


def test_a_page_load_leaves_the_warehouse_free_for_a_load(tmp_path):
    warehouse = small_warehouse(tmp_path / "w.duckdb")
    with serving(warehouse) as server:
        assert httpx.get(server.url).status_code == 200
        writer = subprocess.run(
            [sys.executable, "-c",
             f"import duckdb; duckdb.connect({str(warehouse)!r}).execute('create table marts.written (x int)')"],
            capture_output=True, text=True, timeout=60,
        )
    assert writer.returncode == 0, writer.stderr


def test_during_a_load_the_page_shows_the_last_data_read(tmp_path):
    warehouse = small_warehouse(tmp_path / "w.duckdb")
    with serving(warehouse) as server, httpx.Client() as client:
        assert client.get(server.url).status_code == 200
        with write_lock_held(warehouse):
            during = client.get(server.url)
            health = client.get(server.url + "health")
        after = client.get(server.url)

    assert during.status_code == 200
    assert re.search(r"a load is running; showing data as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", during.text)
    assert "Winter Gala" in during.text
    assert (health.status_code, health.text) == (200, "ok")
    assert after.status_code == 200 and "a load is running" not in after.text


def test_a_warehouse_that_stops_being_readable_shows_the_last_data_read(tmp_path):
    warehouse = small_warehouse(tmp_path / "w.duckdb")
    with serving(warehouse) as server, httpx.Client() as client:
        assert client.get(server.url).status_code == 200
        with duckdb.connect(str(warehouse)) as con:
            con.execute("drop table marts.rpt_session_attendance")
        response = client.get(server.url)

    assert response.status_code == 200
    assert "could not read the warehouse" in response.text and "showing data as of" in response.text
    assert "Winter Gala" in response.text


def test_during_a_load_with_nothing_read_yet_the_page_says_so(tmp_path):
    warehouse = small_warehouse(tmp_path / "w.duckdb")
    with write_lock_held(warehouse), serving(warehouse) as server:
        response = httpx.get(server.url)

    assert response.status_code == 503
    assert "A load is running" in response.text and str(warehouse) in response.text


@pytest.mark.parametrize("made", [False, True], ids=["missing", "without marts"])
def test_dashboard_without_reporting_tables_exits_2_telling_what_to_run(tmp_path, capsys, made):
    warehouse = tmp_path / "w.duckdb"
    if made:
        duckdb.connect(str(warehouse)).close()

    exit_code = main(["dashboard", "--warehouse", str(warehouse), "--port", "0"])

    out = capsys.readouterr().out
    assert exit_code == 2
    assert str(warehouse) in out and "turnout demo" in out and "turnout run" in out


def test_dashboard_command_prints_its_url_serves_and_stops_on_sigterm(tmp_path):
    warehouse = small_warehouse(tmp_path / "w.duckdb")
    process = subprocess.Popen(
        [sys.executable, "-m", "assets.cli", "dashboard", "--warehouse", str(warehouse), "--port", "0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        assert httpx.get(url.group() + "health").text == "ok"
        assert "Winter Gala" in httpx.get(url.group()).text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


# --- in a browser, on a real loaded warehouse ---------------------------------------


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def assert_chart_rendered(dom: lxml_html.HtmlElement, chart: str) -> None:
    [container] = dom.xpath(f"//*[@id='{chart}']")
    assert container.xpath(".//*[local-name()='svg' and contains(@class, 'main-svg')]"), f"{chart}: no plot"
    traces = container.xpath(".//*[contains(concat(' ', @class, ' '), ' trace ')]")
    points = container.xpath(".//*[contains(concat(' ', @class, ' '), ' point ')]")
    assert traces and points, f"{chart}: no data drawn"


def held_at_as_of(warehouse: Path) -> int:
    """Events over by the moment the reports were judged at, as the marts count them."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("""select count(*) from marts.rpt_event_attendance
                              where coalesce(ends_at, starts_at) < as_of""").fetchone()[0]


@pytest.mark.e2e
def test_dashboard_renders_a_loaded_warehouse_in_a_browser(tmp_path, reference):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: this test renders the dashboard in headless Chromium, "
                    "which .ci/run installs (apt-get install chromium)")
    # All four vendors over two days, as `turnout demo --days 1` leaves them (tests/reference.py).
    warehouse = reference.copy(1, tmp_path / "demo" / "demo.duckdb")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        events = con.execute("select count(*) from marts.rpt_event_attendance").fetchone()[0]
    screenshot = tmp_path / "dashboard.png"

    with serving(warehouse) as server:
        dom = chromium(f"--user-data-dir={tmp_path / 'chromium-dom'}", "--dump-dom", server.url).stdout
        chromium(f"--user-data-dir={tmp_path / 'chromium-png'}", f"--screenshot={screenshot}",
                 "--window-size=1400,2600", server.url)
    shutil.copy(screenshot, warehouse.parent / "dashboard.png")

    tree = lxml_html.fromstring(dom)
    assert tree.xpath("//h1/text()") == ["Turnout — how did our events do"]
    assert len(tree.xpath("//*[@id='events-table']//tbody/tr")) == events > 0
    held = tree.xpath("//*[@id='summary']/div[@data-figure='Events held']/div[@class='value']/text()")
    assert held and int(held[0].replace(",", "")) == held_at_as_of(warehouse) > 0
    # The rate's base is narrower than the registrations tile's, and the page says so.
    [rate_note] = tree.xpath("//*[@id='summary']/div[@data-figure='Attendance rate']/div[@class='note']/text()")
    assert "vendors that record attendance (eventbookings, opus)" in rate_note
    for chart in PLOTLY_CHARTS:
        assert_chart_rendered(tree, chart)
    assert tree.xpath("//*[@id='registration-curve']//*[contains(@class, 'updatemenu')]"), "no event picker"
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert screenshot.stat().st_size > 20_000
