select
    'opus' as vendor,
    cast(event_id as varchar) as vendor_event_id,
    cast(product_id as varchar) as vendor_package_id,
    identification,
    name,
    {{ utc_timestamp('start_date_time') }} as starts_at,
    {{ utc_timestamp('end_date_time') }} as ends_at
from {{ source('raw_opus', 'packages') }}
