-- EventBookings checks people in at the door of the event, not per session, and
-- records no time spent: one row per person and started event, minutes unknown.
-- Not given by EventBookings, so not here: vendor_session_id, seconds_attended,
-- attention_checks_passed, attention_checks_issued, attention_checks_required (NULL in
-- the cross-vendor union, see union_vendor_models).
select
    attendees.vendor,
    attendees.vendor_event_id,
    attendees.vendor_person_id,
    {{ bytewise_min('attendees.email') }} as email,
    bool_or(attendees.checked_in) as attended,
    min(attendees.checked_in_at) as checked_in_at
from {{ ref('stg_eventbookings__attendees') }} as attendees
inner join {{ ref('stg_eventbookings__events') }} as events
    on events.vendor_event_id = attendees.vendor_event_id
-- Started by the run's business moment: before that every ticket holder would read as absent.
where attendees.status = 'registered' and events.starts_at <= {{ business_now() }}
group by attendees.vendor, attendees.vendor_event_id, attendees.vendor_person_id
