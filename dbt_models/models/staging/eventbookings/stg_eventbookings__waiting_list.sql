-- People on an event's waiting list now: the current version of each entry.
-- One who left the list, or got a ticket (and so became a ticket holder), is
-- no longer waiting and is left out.
select
    'eventbookings' as vendor,
    {{ to_text('event_uuid') }} as vendor_event_id,
    {{ to_text('uuid') }} as vendor_entry_id,
    coalesce({{ normalised_email('email') }}, {{ to_text('uuid') }}) as vendor_person_id,
    {{ to_text('email') }} as email,
    {{ to_text('first_name') }} as first_name,
    {{ to_text('last_name') }} as last_name,
    {{ to_integer('quantity') }} as tickets_wanted,
    {{ utc_timestamp('created_on__utc') }} as joined_at,
    'waitlisted' as status
from {{ source('raw_eventbookings', 'waiting_list') }}
where _dlt_valid_to is null
