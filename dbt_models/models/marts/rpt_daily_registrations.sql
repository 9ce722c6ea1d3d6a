-- One row per event and day with registration activity: the registration
-- curve before an event. Days are UTC dates. A registration is dated by when
-- it was made, or, where the vendor gives no time (BRP), by when Turnout first
-- saw it; a cancellation by when it was first seen gone.
with activity as (
    select event_key, cast(coalesce(registered_at, first_seen_at) as date) as day, 1 as registered, 0 as cancelled
    from {{ ref('fct_registrations') }}
    where status in ('registered', 'cancelled') and coalesce(registered_at, first_seen_at) is not null
    union all
    select event_key, cast(cancelled_at as date) as day, 0 as registered, 1 as cancelled
    from {{ ref('fct_registrations') }}
    where status = 'cancelled' and cancelled_at is not null
),

daily as (
    select
        event_key,
        day,
        cast(sum(registered) as bigint) as new_registrations,
        cast(sum(cancelled) as bigint) as cancellations
    from activity
    group by event_key, day
)

select
    {{ turnout_key(['daily.event_key', 'daily.day']) }} as event_day_key,
    daily.event_key,
    events.vendor,
    events.vendor_event_id,
    events.name as event_name,
    events.starts_at as event_starts_at,
    daily.day,
    daily.new_registrations,
    daily.cancellations,
    cast(sum(daily.new_registrations - daily.cancellations) over (
        partition by daily.event_key order by daily.day
        rows between unbounded preceding and current row
    ) as bigint) as registered_total
from daily
inner join {{ ref('dim_events') }} as events on events.event_key = daily.event_key
