-- One row per event: who registered, who came, for how long, and what they paid.
-- A figure a vendor cannot give (minutes at EventBookings, orders at OPUS,
-- attendance at BRP, registrations at Icareus) is NULL, never 0.
{%- set records_registrations = vendor_provides('events.vendor', 'registrations') %}
{%- set records_attendance = vendor_provides('events.vendor', 'session_attendance') %}
{%- set keeps_waiting_lists = vendor_provides('events.vendor', 'waiting_list') %}
{#- Vendors that sell tickets: the others get NULL orders and revenue; these get 0 until an order arrives. #}
{%- set sells_tickets = vendor_provides('events.vendor', 'orders') %}
with registrations as (
    select
        event_key,
        cast(sum(case when status = 'registered' then 1 else 0 end) as bigint) as registrations,
        cast(sum(case when status = 'cancelled' then 1 else 0 end) as bigint) as cancellations,
        cast(sum(case when status = 'waitlisted' then 1 else 0 end) as bigint) as waitlisted,
        -- fct_registrations says who came; a no-show exists once the event is over.
        cast(sum(case when attendance_status = 'no_show' then 1 else 0 end) as bigint) as no_shows
    from {{ ref('fct_registrations') }}
    group by event_key
),

attendance as (
    select
        event_key,
        count(distinct case when attended then person_key end) as attendees,
        cast(sum(seconds_attended) as bigint) as seconds_attended
    from {{ ref('fct_session_attendance') }}
    group by event_key
),

-- Vendors that report time attended at all; the others get NULL minutes.
timed_vendors as (
    select distinct vendor
    from {{ ref('fct_session_attendance') }}
    where seconds_attended is not null
),

orders as (
    select
        event_key,
        cast(count(*) as bigint) as orders,
        cast(sum(tickets) as bigint) as tickets_sold,
        cast(sum(gross_amount) as decimal(18, 2)) as gross_revenue,
        cast(sum(refunded_amount) as decimal(18, 2)) as refunded_revenue
    from {{ ref('fct_orders') }}
    -- A cancelled order was never paid.
    where status <> 'cancelled'
    group by event_key
)

select
    events.event_key,
    events.vendor,
    events.vendor_event_id,
    events.name,
    events.starts_at,
    events.ends_at,
    events.timezone,
    events.status,
    events.business_unit,
    events.capacity,
    case when {{ records_registrations }} then coalesce(registrations.registrations, 0) end as registrations,
    coalesce(
        events.filled,
        case when {{ records_registrations }} then coalesce(registrations.registrations, 0) end
    ) as places_filled,
    case
        when events.capacity > 0
            then cast(coalesce(
                events.filled,
                case when {{ records_registrations }} then coalesce(registrations.registrations, 0) end
            ) as double precision) / events.capacity
    end as fill_rate,
    case when {{ records_registrations }} then coalesce(registrations.cancellations, 0) end as cancellations,
    case when {{ keeps_waiting_lists }} then coalesce(registrations.waitlisted, 0) end as waitlisted,
    -- Attendance figures exist once an event has started, at vendors that record attendance;
    -- started and over are judged at the run's business moment (business_now).
    case
        when {{ records_attendance }} and events.starts_at <= {{ business_now() }}
            then coalesce(attendance.attendees, 0)
    end as attendees,
    -- No-shows only exist once an event is over.
    case
        when {{ records_attendance }} and events.ends_at < {{ business_now() }}
            then coalesce(registrations.no_shows, 0)
    end as no_shows,
    case
        when {{ records_attendance }} and events.ends_at < {{ business_now() }} and registrations.registrations > 0
            then cast(coalesce(attendance.attendees, 0) as double precision) / registrations.registrations
    end as attendance_rate,
    case
        when {{ records_attendance }} and events.ends_at < {{ business_now() }} and registrations.registrations > 0
            then cast(coalesce(registrations.no_shows, 0) as double precision) / registrations.registrations
    end as no_show_rate,
    case
        when {{ records_registrations }}
            and coalesce(registrations.registrations, 0) + coalesce(registrations.cancellations, 0) > 0
            then cast(coalesce(registrations.cancellations, 0) as double precision)
                / (coalesce(registrations.registrations, 0) + coalesce(registrations.cancellations, 0))
    end as cancellation_rate,
    -- Minutes as a DOUBLE on every engine: seconds / 60.0 would be NUMERIC on PostgreSQL.
    case
        when events.starts_at <= {{ business_now() }} and timed_vendors.vendor is not null
            then cast(coalesce(attendance.seconds_attended, 0) as double precision) / 60
    end as minutes_attended,
    case
        when events.starts_at <= {{ business_now() }} and timed_vendors.vendor is not null and attendance.attendees > 0
            then cast(attendance.seconds_attended as double precision) / 60 / attendance.attendees
    end as average_minutes_attended,
    case when {{ sells_tickets }} then coalesce(orders.orders, 0) end as orders,
    case when {{ sells_tickets }} then coalesce(orders.tickets_sold, 0) end as tickets_sold,
    events.currency,
    -- Money keeps DECIMAL(18,2) through the CASE: PostgreSQL's CASE and coalesce forget the scale.
    cast(case when {{ sells_tickets }} then coalesce(orders.gross_revenue, 0) end as decimal(18, 2)) as gross_revenue,
    cast(case when {{ sells_tickets }} then coalesce(orders.refunded_revenue, 0) end as decimal(18, 2))
        as refunded_revenue,
    cast(case
        when {{ sells_tickets }}
            then coalesce(orders.gross_revenue, 0) - coalesce(orders.refunded_revenue, 0)
    end as decimal(18, 2)) as net_revenue,
    -- The moment the figures above were judged at, for readers that split held from upcoming.
    {{ business_now() }} as as_of
from {{ ref('dim_events') }} as events
left join registrations on registrations.event_key = events.event_key
left join attendance on attendance.event_key = events.event_key
left join timed_vendors on timed_vendors.vendor = events.vendor
left join orders on orders.event_key = events.event_key
