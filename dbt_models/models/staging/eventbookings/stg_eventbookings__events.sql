-- Not given by EventBookings, so not here: public_starts_at, public_ends_at, filled,
-- business_unit (NULL in the cross-vendor union, see union_vendor_models).
select
    'eventbookings' as vendor,
    uuid as vendor_event_id,
    name,
    {{ to_text('display_name') }} as display_name,
    {{ to_text('description') }} as description,
    {{ to_text('timezone') }} as timezone,
    {{ to_code('currency') }} as currency,
    -- `attending_on` holds the start and the end as {utc, local} pairs.
    {{ utc_timestamp(json_text('attending_on', [0, 'utc'])) }} as starts_at,
    {{ utc_timestamp(json_text('attending_on', [-1, 'utc'])) }} as ends_at,
    -- A capacity of 0 means none was set.
    nullif({{ to_integer(json_text('settings', ['event_capacity'])) }}, 0) as capacity,
    case
        when {{ to_boolean(name_value('extended_status', 'cancelled')) }} or status = 'cancelled' then 'cancelled'
    end as status,
    {{ name_value('extended_status', 'publishing') }} as publishing,
    {{ name_value('extended_status', 'listing') }} as listing,
    {{ utc_timestamp('created_on') }} as created_at,
    {{ utc_timestamp('updated_on') }} as updated_at
from {{ source('raw_eventbookings', 'events') }}
