-- The latest version of each ticket holder: still listed (registered) or no
-- longer listed (cancelled, at the time it was first seen gone).
with versions as (
    select
        *,
        row_number() over (partition by event_uuid, uuid order by _dlt_valid_from desc) as version_rank
    from {{ source('raw_eventbookings', 'attendees') }}
)

select
    'eventbookings' as vendor,
    event_uuid as vendor_event_id,
    uuid as vendor_attendee_id,
    order_uuid as vendor_order_id,
    ticket_uuid as vendor_ticket_id,
    ticket_name,
    -- EventBookings knows ticket holders by email only.
    coalesce({{ normalised_email('email') }}, uuid) as vendor_person_id,
    email,
    {{ to_text('first_name') }} as first_name,
    {{ to_text('last_name') }} as last_name,
    coalesce({{ to_boolean('checked_in') }}, false) as checked_in,
    {{ utc_timestamp('checked_in_on__utc') }} as checked_in_at,
    {{ utc_timestamp('created_on') }} as registered_at,
    {{ utc_timestamp('updated_on') }} as updated_at,
    case when _dlt_valid_to is null then 'registered' else 'cancelled' end as status,
    _dlt_valid_to as cancelled_at
from versions
where version_rank = 1
