-- EventBookings checks people in at the door of the event, not per session, and
-- records no time spent: one row per person and started event, minutes unknown.
select
    attendees.vendor,
    attendees.vendor_event_id,
    cast(null as varchar) as vendor_session_id,
    attendees.vendor_person_id,
    min(attendees.email) as email,
    cast(null as bigint) as seconds_attended,
    bool_or(attendees.checked_in) as attended,
    min(attendees.checked_in_at) as checked_in_at,
    cast(null as bigint) as attention_checks_passed,
    cast(null as bigint) as attention_checks_issued,
    cast(null as bigint) as attention_checks_required
from {{ ref('stg_eventbookings__attendees') }} as attendees
inner join {{ ref('stg_eventbookings__events') }} as events
    on events.vendor_event_id = attendees.vendor_event_id
-- Started by the run's business moment: before that every ticket holder would read as absent.
where attendees.status = 'registered' and events.starts_at <= {{ business_now() }}
group by attendees.vendor, attendees.vendor_event_id, attendees.vendor_person_id
