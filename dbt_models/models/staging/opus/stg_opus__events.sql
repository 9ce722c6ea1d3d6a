select
    'opus' as vendor,
    {{ to_text('id') }} as vendor_event_id,
    {{ to_text('name') }} as name,
    {{ to_text('description') }} as description,
    {{ to_text('type') }} as event_type,
    {{ to_text('category') }} as event_category,
    {{ to_text('slug') }} as slug,
    {{ to_text('url') }} as url,
    {{ to_text('timezone') }} as timezone,
    -- OPUS sells no tickets through this API: no currency.
    cast(null as varchar) as currency,
    {{ utc_timestamp('start_date') }} as starts_at,
    {{ utc_timestamp('end_date') }} as ends_at,
    -- Only Icareus publishes separate public times.
    cast(null as timestamptz) as public_starts_at,
    cast(null as timestamptz) as public_ends_at,
    -- OPUS publishes neither a capacity, places taken, a business unit nor an event status.
    cast(null as bigint) as capacity,
    cast(null as bigint) as filled,
    cast(null as varchar) as business_unit,
    cast(null as varchar) as status
from {{ source('raw_opus', 'events') }}
