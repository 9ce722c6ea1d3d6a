-- Not given by EventBookings, so not here: public_starts_at, public_ends_at (NULL in the
-- cross-vendor union, see union_vendor_models).
select
    'eventbookings' as vendor,
    {{ to_text('event_uuid') }} as vendor_event_id,
    {{ to_text('uuid') }} as vendor_session_id,
    list_position,
    name as title,
    type as session_type,
    status,
    {{ utc_timestamp(json_text('session_starts_on', ['utc'])) }} as starts_at,
    {{ utc_timestamp(json_text('session_ends_on', ['utc'])) }} as ends_at,
    nullif({{ json_text('configuration', ['attributes', 0, 'value', 'name']) }}, '') as room
from {{ source('raw_eventbookings', 'sessions') }}
