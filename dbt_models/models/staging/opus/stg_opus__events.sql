select
    'opus' as vendor,
    cast(id as varchar) as vendor_event_id,
    name,
    description,
    type as event_type,
    category as event_category,
    slug,
    url,
    timezone,
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
