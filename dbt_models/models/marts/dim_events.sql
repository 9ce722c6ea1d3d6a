select
    {{ turnout_key(['vendor', 'vendor_event_id']) }} as event_key,
    vendor,
    vendor_event_id,
    name,
    starts_at,
    ends_at,
    public_starts_at,
    public_ends_at,
    timezone,
    currency,
    capacity,
    filled,
    business_unit,
    -- Vendors without an event status get one from the calendar, read at the run's business date.
    coalesce(
        status,
        case when ends_at < {{ business_now() }} then 'completed' else 'scheduled' end
    ) as status
from {{ ref('int_events') }}
-- Rows that break the contract are in rejected.dim_events, with the reason.
where rejection_reason is null
