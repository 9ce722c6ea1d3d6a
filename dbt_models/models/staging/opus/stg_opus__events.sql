-- Not given by OPUS, so not here: currency, public_starts_at, public_ends_at, capacity,
-- filled, business_unit, status (NULL in the cross-vendor union, see
-- union_vendor_models).
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
    {{ utc_timestamp('start_date') }} as starts_at,
    {{ utc_timestamp('end_date') }} as ends_at
from {{ source('raw_opus', 'events') }}
