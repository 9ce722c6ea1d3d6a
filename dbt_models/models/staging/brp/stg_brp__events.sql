-- BRP publishes Stockholm wall-clock times; the source converted them to UTC
-- (daylight saving included), preferring a timepoint's Unix timestamp.
-- Not given by BRP, so not here: currency, public_starts_at, public_ends_at, status
-- (NULL in the cross-vendor union, see union_vendor_models).
select
    'brp' as vendor,
    cast(id as varchar) as vendor_event_id,
    name,
    {{ to_text('code') }} as event_code,
    {{ to_text('description') }} as description,
    {{ to_integer('productid') }} as product_id,
    {{ to_text('productdescription') }} as product_description,
    {{ to_integer('businessunit__id') }} as business_unit_id,
    {{ to_text('businessunit__name') }} as business_unit,
    {{ to_integer('orderid') }} as order_id,
    'Europe/Stockholm' as timezone,
    starts_at_utc as starts_at,
    -- BRP gives no end time: an event runs to the end of its last day.
    ends_at_utc as ends_at,
    -- An event without a start time starts at midnight of its first day.
    {{ to_text('time') }} is not null as has_start_time,
    {{ to_integer('numberofoccasions') }} as occasions,
    {{ to_integer('bookableslots') }} as capacity,
    {{ to_integer('filledslots') }} as filled,
    bookableearliest_utc as booking_opens_at,
    bookablelatest_utc as booking_closes_at,
    publishstart_utc as publish_starts_at,
    publishend_utc as publish_ends_at,
    lastupdate_utc as updated_at
from {{ source('raw_brp', 'events') }}
