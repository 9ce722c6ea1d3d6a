-- One row per event and day with registration activity: the registration
-- curve before an event. Days are dates in the event's own time zone, so a
-- registration made at 23:30 in Sydney counts on that Sydney day; an event
-- without a known IANA zone (Icareus gives none) counts in UTC. A
-- registration is dated by when it was made, or, where the vendor gives no
-- time (BRP), by when Turnout first saw it; a cancellation by when it was
-- first seen gone.
with events as (
    select
        events.*,
        -- An unknown zone name would make timezone() fail the whole model.
        case when zones.name is not null then events.timezone else 'UTC' end as day_timezone
    from {{ ref('dim_events') }} as events
    left join (select name from pg_timezone_names()) as zones on zones.name = events.timezone
),

activity as (
    select event_key, coalesce(registered_at, first_seen_at) as happened_at, 1 as registered, 0 as cancelled
    from {{ ref('fct_registrations') }}
    where status in ('registered', 'cancelled') and coalesce(registered_at, first_seen_at) is not null
    union all
    select event_key, cancelled_at as happened_at, 0 as registered, 1 as cancelled
    from {{ ref('fct_registrations') }}
    where status = 'cancelled' and cancelled_at is not null
),

daily as (
    select
        activity.event_key,
        cast(timezone(events.day_timezone, activity.happened_at) as date) as day,
        cast(sum(activity.registered) as bigint) as new_registrations,
        cast(sum(activity.cancelled) as bigint) as cancellations
    from activity
    inner join events on events.event_key = activity.event_key
    group by 1, 2
)

select
    {{ turnout_key(['daily.event_key', 'daily.day']) }} as event_day_key,
    daily.event_key,
    events.vendor,
    events.vendor_event_id,
    events.name as event_name,
    events.starts_at as event_starts_at,
    events.day_timezone,
    daily.day,
    daily.new_registrations,
    daily.cancellations,
    cast(sum(daily.new_registrations - daily.cancellations) over (
        partition by daily.event_key order by daily.day
        rows between unbounded preceding and current row
    ) as bigint) as registered_total
from daily
inner join events on events.event_key = daily.event_key
