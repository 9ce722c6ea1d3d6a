-- Not given by OPUS, so not here: public_starts_at, public_ends_at (NULL in the cross-
-- vendor union, see union_vendor_models).
select
    'opus' as vendor,
    cast(event_id as varchar) as vendor_event_id,
    cast(id as varchar) as vendor_session_id,
    cast(product_id as varchar) as product_id,
    identification,
    title,
    {{ utc_timestamp('start_date_time') }} as starts_at,
    {{ utc_timestamp('end_date_time') }} as ends_at,
    {{ to_text('session_room') }} as room,
    {{ to_integer('alertness_issued') }} as attention_checks_issued,
    {{ to_integer('alertness_required') }} as attention_checks_required
from {{ source('raw_opus', 'sessions') }}
