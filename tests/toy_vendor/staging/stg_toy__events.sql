select
    'toy' as vendor,
    {{ to_text('id') }} as vendor_event_id,
    {{ to_text('name') }} as name,
    {{ utc_timestamp('starts_at') }} as starts_at,
    {{ utc_timestamp('ends_at') }} as ends_at
from {{ source('raw_toy', 'events') }}
