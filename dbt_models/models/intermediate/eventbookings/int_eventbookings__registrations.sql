-- Each ticket holder is a registration for the event; each person on its
-- waiting list is one too, `waitlisted`. EventBookings dates every ticket, so
-- when Turnout first saw one (first_seen_at) is not needed here.
select
    vendor,
    vendor_event_id,
    vendor_attendee_id as vendor_registration_id,
    vendor_person_id,
    email,
    first_name,
    last_name,
    registered_at,
    status,
    cancelled_at
from {{ ref('stg_eventbookings__attendees') }}
union all
select
    vendor,
    vendor_event_id,
    vendor_entry_id as vendor_registration_id,
    vendor_person_id,
    email,
    first_name,
    last_name,
    joined_at as registered_at,
    status,
    cast(null as timestamptz) as cancelled_at
from {{ ref('stg_eventbookings__waiting_list') }}
