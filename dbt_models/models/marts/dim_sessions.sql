select
    {{ turnout_key(['vendor', 'vendor_event_id', 'vendor_session_id']) }} as session_key,
    {{ turnout_key(['vendor', 'vendor_event_id']) }} as event_key,
    vendor,
    vendor_session_id,
    title,
    starts_at,
    ends_at,
    public_starts_at,
    public_ends_at,
    room
from {{ ref('int_sessions') }}
-- Rows that break the contract are in rejected.dim_sessions, with the reason.
where rejection_reason is null
