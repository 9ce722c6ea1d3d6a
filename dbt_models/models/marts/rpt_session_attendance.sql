-- One row per session (or Icareus room): who came and for how long. Figures a
-- vendor cannot give are NULL, never 0: attendance where it records none per
-- session (EventBookings checks in per event, BRP and Icareus not at all),
-- minutes where it measures no time, attention checks everywhere but OPUS.
with attendance as (
    select
        session_key,
        cast(count(distinct case when attended then person_key end) as bigint) as attendees,
        cast(sum(seconds_attended) as bigint) as seconds_attended,
        cast(sum(attention_checks_passed) as bigint) as attention_checks_passed,
        cast(sum(attention_checks_issued) as bigint) as attention_checks_issued
    from {{ ref('fct_session_attendance') }}
    where session_key is not null
    group by session_key
),

-- Vendors that record attendance per session, and those that also time it.
session_vendors as (
    select vendor, bool_or(seconds_attended is not null) as timed
    from {{ ref('fct_session_attendance') }}
    where session_key is not null
    group by vendor
)

select
    sessions.session_key,
    sessions.event_key,
    sessions.vendor,
    sessions.vendor_session_id,
    events.name as event_name,
    sessions.title as session_title,
    sessions.room,
    sessions.starts_at,
    sessions.ends_at,
    -- A session's figures exist once it has started by the run's business moment (business_now).
    case
        when session_vendors.vendor is not null and sessions.starts_at <= {{ business_now() }}
            then coalesce(attendance.attendees, 0)
    end as attendees,
    -- Minutes as a DOUBLE on every engine: seconds / 60.0 would be NUMERIC on PostgreSQL.
    case
        when session_vendors.timed and sessions.starts_at <= {{ business_now() }}
            then cast(coalesce(attendance.seconds_attended, 0) as double precision) / 60
    end as minutes_attended,
    case
        when session_vendors.timed and sessions.starts_at <= {{ business_now() }} and attendance.attendees > 0
            then cast(attendance.seconds_attended as double precision) / 60 / attendance.attendees
    end as average_minutes_attended,
    case when sessions.starts_at <= {{ business_now() }} then attendance.attention_checks_passed end
        as attention_checks_passed,
    case when sessions.starts_at <= {{ business_now() }} then attendance.attention_checks_issued end
        as attention_checks_issued
from {{ ref('dim_sessions') }} as sessions
inner join {{ ref('dim_events') }} as events on events.event_key = sessions.event_key
left join attendance on attendance.session_key = sessions.session_key
left join session_vendors on session_vendors.vendor = sessions.vendor
