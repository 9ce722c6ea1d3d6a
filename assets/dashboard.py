"""`turnout dashboard`: a local web page on the warehouse's reporting tables.

Every page load opens the warehouse read-only just long enough to read
`marts.rpt_event_attendance`, `marts.rpt_daily_registrations` and
`marts.rpt_session_attendance` into DataFrames, then closes it, so the
dashboard never holds the file while idle and never blocks a load. While a
load holds the write lock, the page shows the last data read.

Which events are held and which upcoming follows the moment the reports were
judged at (`rpt_event_attendance.as_of`, from the business date the run loaded
for), as their attendance figures do, not the clock of the machine showing them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import html
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go
import psycopg2
from plotly.offline import get_plotlyjs

from assets.settings import DASHBOARD_HOST, DASHBOARD_PORT
from assets.warehouse import NOT_FOUND, Warehouse, WarehouseBusy, WarehouseUnreachable

TITLE = "Turnout — how did our events do"
EMPTY = "–"  # what a NULL figure shows as: the vendor cannot give it, which is not 0
TOP_SESSIONS = 30

EVENTS_SQL = """
    select event_key, vendor, name, starts_at at time zone 'UTC' as starts_at,
           coalesce(ends_at, starts_at) at time zone 'UTC' as ends_at, registrations, attendees, no_shows,
           attendance_rate, no_show_rate, minutes_attended, orders, net_revenue, currency, fill_rate
    from marts.rpt_event_attendance
    order by starts_at desc nulls last, name, event_key
"""
DAILY_SQL = """
    select event_key, vendor, event_name, day_timezone, day, registered_total
    from marts.rpt_daily_registrations
    order by event_key, day
"""
SESSIONS_SQL = """
    select session_key, event_key, vendor, event_name, session_title, attendees, average_minutes_attended
    from marts.rpt_session_attendance
"""
AS_OF_SQL = "select max(as_of) from marts.rpt_event_attendance"


@dataclasses.dataclass(frozen=True)
class Reports:
    warehouse: Warehouse
    events: pd.DataFrame
    daily_registrations: pd.DataFrame
    sessions: pd.DataFrame
    read_at: dt.datetime
    # The moment the reports judged started and over at; None where they do not say.
    as_of: dt.datetime | None = None

    @property
    def judged_at(self) -> dt.datetime:
        """What held and upcoming are split at: the reports' own moment, else the time they were read."""
        return self.as_of or self.read_at


@dataclasses.dataclass(frozen=True)
class Figures:
    registration_curve: go.Figure
    attendance_by_vendor_month: go.Figure
    session_minutes: go.Figure


# --- reading ---------------------------------------------------------------


def read_reports(warehouse: Warehouse | Path) -> Reports:
    """The three reporting tables, read on a read-only connection closed before returning.
    WarehouseBusy while a load holds a DuckDB file."""
    warehouse = Warehouse.of(warehouse)  # shown on the page as such: a server's URL without its password
    with warehouse.reading() as con:
        return Reports(
            warehouse=warehouse,
            events=con.execute(EVENTS_SQL).df(),
            daily_registrations=con.execute(DAILY_SQL).df(),
            sessions=con.execute(SESSIONS_SQL).df(),
            read_at=dt.datetime.now().astimezone(),
            as_of=reports_as_of(con),
        )


def reports_as_of(con: Any) -> dt.datetime | None:
    """The moment rpt_event_attendance was judged at; None for an empty one, or one built
    before the marts recorded it (the next run adds it)."""
    try:
        [(as_of,)] = con.execute(AS_OF_SQL).fetchall()
    except NOT_FOUND:
        return None
    return as_of


def unusable(warehouse: Warehouse | Path) -> str | None:
    """Why the dashboard cannot serve this warehouse, or None if it can (or a load is running)."""
    warehouse = Warehouse.of(warehouse)
    if not warehouse.exists():
        return f"{warehouse} does not exist. Build it with `turnout demo` or `turnout run` first."
    try:
        read_reports(warehouse)
    except WarehouseBusy:
        return None
    except NOT_FOUND:
        return (f"{warehouse} has no reporting tables (marts.rpt_*). "
                "Build them with `turnout demo` or `turnout run` first.")
    except WarehouseUnreachable as exc:
        return str(exc)
    except (duckdb.Error, psycopg2.Error) as exc:
        return f"{warehouse} cannot be read as a Turnout warehouse ({exc}). Run `turnout demo` or `turnout run` first."
    return None


# --- figures -----------------------------------------------------------------


def figures(reports: Reports) -> Figures:
    return Figures(
        registration_curve=registration_curve(reports.daily_registrations, reports.events),
        attendance_by_vendor_month=attendance_by_vendor_month(reports.events),
        session_minutes=session_minutes(reports.sessions),
    )


def registration_curve(daily: pd.DataFrame, events: pd.DataFrame) -> go.Figure:
    """One line, the running registered total by day, for the event picked in a dropdown."""
    if daily.empty:
        return _empty_figure("No registrations recorded yet.")
    curves = [(key, rows) for key, rows in daily.groupby("event_key", sort=False)]
    ranking = events.drop_duplicates("event_key").set_index("event_key")["registrations"]
    curves.sort(key=lambda curve: -_most_registrations(curve, ranking))
    buttons = [_curve_button(rows) for _, rows in curves]
    first = buttons[0]["args"][0]
    figure = go.Figure(go.Scatter(
        x=first["x"][0], y=first["y"][0], mode="lines+markers", line={"shape": "hv"}, name="registered",
    ))
    figure.update_layout(
        title={"text": buttons[0]["label"]},
        xaxis={"type": "date", "title": {"text": "day (in the event's time zone)"}},
        yaxis={"title": {"text": "registered (running total)"}, "rangemode": "tozero"},
        updatemenus=[{"buttons": buttons, "active": 0, "x": 1, "xanchor": "right", "y": 1.18, "yanchor": "top"}],
        margin={"t": 90},
        height=440,
    )
    return figure


def _most_registrations(curve: tuple[Any, pd.DataFrame], ranking: pd.Series) -> float:
    key, rows = curve
    registrations = ranking.get(key)
    if registrations is None or pd.isna(registrations):
        registrations = rows["registered_total"].iloc[-1]
    return 0.0 if pd.isna(registrations) else float(registrations)


def _curve_button(rows: pd.DataFrame) -> dict[str, Any]:
    first = rows.iloc[0]
    label = _plot_text(f"{_text(first['event_name'])} · {first['vendor']}")
    days = [pd.Timestamp(day).strftime("%Y-%m-%d") for day in rows["day"]]
    totals = [None if pd.isna(total) else int(total) for total in rows["registered_total"]]
    return {"label": label, "method": "update", "args": [{"x": [days], "y": [totals]}, {"title.text": label}]}


def attendance_by_vendor_month(events: pd.DataFrame) -> go.Figure:
    """Attendees over registrations, per vendor and month of the event's start, over events with a rate."""
    rated = events[events["attendance_rate"].notna() & events["starts_at"].notna()].copy()
    if rated.empty:
        return _empty_figure("No event has an attendance rate yet.")
    rated["month"] = rated["starts_at"].dt.strftime("%Y-%m")
    totals = rated.groupby(["vendor", "month"], as_index=False)[["attendees", "registrations"]].sum()
    totals = totals[totals["registrations"] > 0]
    totals["rate"] = totals["attendees"].astype(float) / totals["registrations"].astype(float)
    figure = go.Figure([
        go.Bar(
            x=rows["month"], y=rows["rate"], name=_plot_text(vendor),
            customdata=rows[["attendees", "registrations"]].astype(float).to_numpy(),
            hovertemplate="%{x}: %{y:.0%} (%{customdata[0]:,.0f} of %{customdata[1]:,.0f})",
            texttemplate="%{y:.0%}", textposition="outside",
        )
        for vendor, rows in totals.sort_values("month").groupby("vendor")
    ])
    figure.update_layout(
        barmode="group",
        xaxis={"type": "category", "title": {"text": "month of the event's start (UTC)"}},
        yaxis={"tickformat": ".0%", "title": {"text": "attendance rate"}, "rangemode": "tozero"},
        legend={"title": {"text": "vendor"}},
        height=420,
    )
    return figure


def session_minutes(sessions: pd.DataFrame) -> go.Figure:
    """Average minutes attended per session, for the sessions most attended."""
    timed = sessions[sessions["average_minutes_attended"].notna() & sessions["attendees"].notna()]
    if timed.empty:
        return _empty_figure("No session has minutes attended yet.")
    top = timed.sort_values(["attendees", "session_key"], ascending=[False, True]).head(TOP_SESSIONS)
    labels = _unique([f"{_text(e)} — {_text(s)}" for e, s in zip(top["event_name"], top["session_title"], strict=True)])
    figure = go.Figure(go.Bar(
        x=top["average_minutes_attended"].astype(float), y=[_plot_text(_shorten(label)) for label in labels],
        orientation="h", customdata=top["attendees"].astype(float),
        hovertemplate="%{y}<br>%{x:,.1f} minutes on average, %{customdata:,.0f} attendees<extra></extra>",
    ))
    figure.update_layout(
        xaxis={"title": {"text": "average minutes attended"}},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        height=120 + 24 * len(top),
    )
    return figure


def _empty_figure(message: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False}, height=200,
        annotations=[{"text": _plot_text(message), "showarrow": False, "font": {"size": 16}}],
    )
    return figure


def _text(value: Any) -> str:
    return EMPTY if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _plot_text(text: str) -> str:
    # plotly.js reads a few HTML tags in labels and turns entities back into characters.
    return html.escape(text, quote=False)


def _shorten(label: str, limit: int = 70) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _unique(labels: list[str]) -> list[str]:
    """Labels on a category axis must differ, or their bars merge."""
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique


# --- the page ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Covered:
    """What a headline figure is over: events held, their registrations, and the vendors of those."""

    events: int
    registrations: int
    vendors: tuple[str, ...]

    @classmethod
    def of(cls, events: pd.DataFrame) -> Covered:
        return cls(len(events), int(events["registrations"].sum()) if len(events) else 0, _vendors_of(events))


def _vendors_of(events: pd.DataFrame) -> tuple[str, ...]:
    return tuple(sorted(str(vendor) for vendor in events["vendor"].unique()))


@dataclasses.dataclass(frozen=True)
class Summary:
    """The headline over events already held, and revenue over every event.

    Registrations count every vendor that records them; the attendance and no-show rates only
    the events held at vendors that record attendance, so each tile names what it covers.
    """

    judged_at: dt.datetime  # held means over by then
    held: int
    upcoming: int
    registrations: int | None
    registered: Covered  # events held with registrations
    attendance_rate: float | None
    no_show_rate: float | None
    attendees: int
    no_shows: int
    rated: Covered  # events held with an attendance rate
    net_revenue: dict[str, float]
    revenue_vendors: tuple[str, ...]


def held(events: pd.DataFrame, now: dt.datetime) -> pd.Series:
    """Which events are over at `now` (naive UTC times in the frame)."""
    moment = pd.Timestamp(now).tz_convert("UTC").tz_localize(None) if now.tzinfo else pd.Timestamp(now)
    return events["ends_at"].notna() & (events["ends_at"] < moment)


def summarise(events: pd.DataFrame, now: dt.datetime) -> Summary:
    over = events[held(events, now)]
    counted = over[over["registrations"].notna()]
    # Rates are totals over totals across events that have one, not a mean of event rates.
    rated = over[over["attendance_rate"].notna()]
    rated_registrations = float(rated["registrations"].sum())
    attendees, no_shows = int(rated["attendees"].sum()), int(rated["no_shows"].sum())
    revenue = events[events["net_revenue"].notna() & events["currency"].notna()]
    return Summary(
        judged_at=now,
        held=len(over),
        upcoming=len(events) - len(over),
        registrations=int(counted["registrations"].sum()) if len(counted) else None,
        registered=Covered.of(counted),
        attendance_rate=attendees / rated_registrations if rated_registrations else None,
        no_show_rate=no_shows / rated_registrations if rated_registrations else None,
        attendees=attendees,
        no_shows=no_shows,
        rated=Covered.of(rated),
        net_revenue={str(currency): float(rows["net_revenue"].astype(float).sum())
                     for currency, rows in revenue.groupby("currency", sort=True)},
        revenue_vendors=_vendors_of(revenue),
    )


def summary_tiles(summary: Summary) -> str:
    def rate(value: float | None) -> str:
        return EMPTY if value is None else f"{value:.1%}"

    revenue = ", ".join(f"{amount:,.2f} {currency}" for currency, amount in summary.net_revenue.items()) or EMPTY
    tiles = [
        ("Events held", f"{summary.held:,}", _held_note(summary)),
        ("Registrations", EMPTY if summary.registrations is None else f"{summary.registrations:,}",
         f"at {_events(summary.registered.events)} held{_vendors(summary.registered.vendors)}"),
        ("Attendance rate", rate(summary.attendance_rate), _rated_note(summary, summary.attendees, "attendees")),
        ("No-show rate", rate(summary.no_show_rate), _rated_note(summary, summary.no_shows, "no-shows")),
        ("Net revenue", revenue, f"every event, held or upcoming, after refunds{_vendors(summary.revenue_vendors)}"),
    ]
    return '<div id="summary" class="tiles">\n' + "\n".join(
        f'<div class="tile" data-figure="{html.escape(label)}"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div><div class="note">{html.escape(note)}</div></div>'
        for label, value, note in tiles
    ) + "\n</div>"


def _held_note(summary: Summary) -> str:
    return f"{summary.upcoming:,} upcoming, as of {_utc(summary.judged_at)}"


def _rated_note(summary: Summary, count: int, what: str) -> str:
    """A rate's base, which is narrower than the registrations tile's: only vendors that record attendance."""
    rated = summary.rated
    if not rated.events:
        return "no event held has attendance recorded yet"
    return (f"{count:,} {what} of {rated.registrations:,} registrations: the {_events(rated.events)} held "
            f"at vendors that record attendance{_vendors(rated.vendors)}")


def _events(count: int) -> str:
    return f"{count:,} event{'' if count == 1 else 's'}"


def _vendors(vendors: tuple[str, ...]) -> str:
    return f" ({', '.join(vendors)})" if vendors else ""


def _utc(moment: dt.datetime) -> str:
    stamp = pd.Timestamp(moment)
    return (stamp.tz_convert("UTC") if stamp.tzinfo else stamp).strftime("%Y-%m-%d %H:%M UTC")


EVENT_COLUMNS = {
    "name": "Event",
    "held": "Held",
    "vendor": "Vendor",
    "starts_at": "Start (UTC)",
    "registrations": "Registrations",
    "attendees": "Attendees",
    "attendance_rate": "Attendance rate",
    "no_show_rate": "No-show rate",
    "minutes_attended": "Minutes attended",
    "orders": "Orders",
    "net_revenue": "Net revenue",
    "fill_rate": "Fill rate",
}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem 2rem; color: #222; }
h1 { margin-bottom: .2rem; }
.read { color: #555; margin-top: 0; }
.notice { background: #fff4d6; border: 1px solid #e6c45c; padding: .6rem .8rem; border-radius: 4px; }
section { margin-top: 2rem; }
#events-table { max-height: 32rem; overflow: auto; border: 1px solid #e3e3e3; }
table.events { border-collapse: collapse; font-size: .9rem; width: 100%; }
table.events th, table.events td { padding: .3rem .6rem; border-bottom: 1px solid #e3e3e3; }
table.events th { text-align: left; background: #f6f6f6; position: sticky; top: 0; }
table.events td:nth-child(n+4) { text-align: right; white-space: nowrap; }
.tiles { display: flex; flex-wrap: wrap; gap: 1rem; }
.tile { border: 1px solid #e3e3e3; border-radius: 6px; padding: .7rem 1rem; min-width: 10rem; max-width: 17rem; }
.tile .label { color: #555; font-size: .85rem; }
.tile .value { font-size: 1.6rem; font-weight: 600; }
.tile .note { color: #777; font-size: .75rem; }
"""


def render_page(reports: Reports, notice: str | None = None) -> str:
    """The dashboard's HTML; plotly.js is served beside it at /plotly.min.js."""
    charts = figures(reports)
    sections = [
        ("At a glance", "summary", summary_tiles(summarise(reports.events, reports.judged_at))),
        ("Events, held first", "events-table", events_table(reports.events, reports.judged_at)),
        ("Registrations over time", "registration-curve", _chart(charts.registration_curve, "registration-curve")),
        ("Attendance rate by vendor and month", "attendance-by-vendor-month",
         _chart(charts.attendance_by_vendor_month, "attendance-by-vendor-month")),
        (f"Minutes attended per session (top {TOP_SESSIONS} by attendees)", "session-minutes",
         _chart(charts.session_minutes, "session-minutes")),
    ]
    body = "\n".join(
        f'<section aria-labelledby="{key}-heading"><h2 id="{key}-heading">{html.escape(heading)}</h2>\n{content}</section>'
        for heading, key, content in sections
    )
    read = f"Warehouse {reports.warehouse} · data read {_when(reports.read_at)}"
    return _document(
        f'<p class="read">{html.escape(read)}</p>\n{_notice(notice)}{body}',
        head='<script src="/plotly.min.js" charset="utf-8"></script>',
    )


def render_busy_page(warehouse: Warehouse | Path) -> str:
    """What a page load shows while a load runs and no data has been read yet."""
    message = (f"A load is running on {warehouse}, and no data has been read from it yet. "
               "This page reloads itself; the dashboard appears once the load is done.")
    return _document(_notice(message), head='<meta http-equiv="refresh" content="5">')


def render_error_page(warehouse: Warehouse | Path, problem: str) -> str:
    return _document(_notice(f"{warehouse}: {problem}. Is it a warehouse built by `turnout demo` or `turnout run`?"))


def events_table(events: pd.DataFrame, now: dt.datetime) -> str:
    """Events held, newest first, then upcoming ones, soonest first; NULL figures as an en dash."""
    over = held(events, now)
    ordered = pd.concat([
        events[over],  # already newest first
        events[~over].sort_values(["starts_at", "name", "event_key"], na_position="last"),
    ]).assign(held=["yes"] * int(over.sum()) + ["upcoming"] * int((~over).sum()))
    shown = pd.DataFrame({
        label: [_cell(column, row) for row in ordered.itertuples(index=False)]
        for column, label in EVENT_COLUMNS.items()
    }, columns=list(EVENT_COLUMNS.values()))
    table = shown.to_html(index=False, escape=True, border=0, classes="events", na_rep=EMPTY)
    return f'<div id="events-table">\n{table}\n</div>'


def _cell(column: str, row: Any) -> str:
    value = getattr(row, column)
    if value is None or pd.isna(value):
        return EMPTY
    if column == "starts_at":
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")
    if column in ("attendance_rate", "no_show_rate", "fill_rate"):
        return f"{float(value):.1%}"
    if column in ("registrations", "attendees", "orders", "minutes_attended"):
        return f"{float(value):,.0f}"
    if column == "net_revenue":
        currency = "" if row.currency is None or pd.isna(row.currency) else f" {row.currency}"
        return f"{float(value):,.2f}{currency}"
    return str(value)


def _chart(figure: go.Figure, div_id: str) -> str:
    return figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def _notice(message: str | None) -> str:
    return f'<p class="notice" role="status">{html.escape(message)}</p>\n' if message else ""


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _document(body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(TITLE)}</title>\n<style>{STYLE}</style>\n{head}\n</head>\n"
        f"<body>\n<h1>{html.escape(TITLE)}</h1>\n{body}\n</body>\n</html>\n"
    )


# --- serving -----------------------------------------------------------------------


@functools.cache
def _plotly_js() -> bytes:
    return get_plotlyjs().encode()


class DashboardServer(ThreadingHTTPServer):
    """Serves the page on loopback; remembers the last data read for while a load runs."""

    daemon_threads = True
    # Keep-alive handler threads may sit idle in a read; never wait for them.
    block_on_close = False

    def __init__(self, warehouse: Warehouse | Path, port: int):
        self.warehouse = Warehouse.of(warehouse)
        self._last: Reports | None = None
        self._reading = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((DASHBOARD_HOST, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{DASHBOARD_HOST}:{self.server_address[1]}/"

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        # Headers and body go out in separate writes; with Nagle on, each
        # keep-alive response would wait for the peer's delayed ACK (~40 ms).
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

    def page(self) -> tuple[int, str]:
        """Status and HTML for one page load: fresh data, else the last read and why, else why not."""
        busy, problem = False, None
        with self._reading:
            try:
                self._last = read_reports(self.warehouse)
            except WarehouseBusy:
                busy, problem = True, "a load is running"
            except (duckdb.Error, psycopg2.Error, WarehouseUnreachable) as exc:
                problem = f"could not read the warehouse ({exc})"
            last = self._last
        if last is not None:
            notice = f"{problem}; showing data as of {_when(last.read_at)}" if problem else None
            return 200, render_page(last, notice)
        if busy:
            return 503, render_busy_page(self.warehouse)
        return 500, render_error_page(self.warehouse, str(problem))

    def start(self) -> DashboardServer:
        self._thread = threading.Thread(target=self.serve_forever, name="turnout-dashboard", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            status, page = self.server.page()
            self._send(status, "text/html; charset=utf-8", page.encode(), {"Cache-Control": "no-store"})
        elif path == "/health":
            self._send(200, "text/plain; charset=utf-8", b"ok")
        elif path == "/plotly.min.js":
            self._send(200, "text/javascript; charset=utf-8", _plotly_js(), {"Cache-Control": "max-age=86400"})
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found")

    def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", "5")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # nothing per request


def serve(warehouse: Warehouse | Path, port: int = DASHBOARD_PORT) -> DashboardServer:
    """Starts serving the dashboard on 127.0.0.1:port (0: a free port) in a background thread."""
    return DashboardServer(warehouse, port).start()
