-- Each ticket holder is a registration for the event.
select
    vendor,
    vendor_event_id,
    vendor_attendee_id as vendor_registration_id,
    vendor_person_id,
    email,
    first_name,
    last_name,
    registered_at,
    -- EventBookings dates every ticket; when Turnout first saw it is not needed.
    cast(null as timestamptz) as first_seen_at,
    status,
    cancelled_at
from {{ ref('stg_eventbookings__attendees') }}
