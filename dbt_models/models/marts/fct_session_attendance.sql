select
    {{ turnout_key(['vendor', 'vendor_event_id', 'session_reference', 'vendor_person_id']) }} as attendance_key,
    {{ turnout_key(['vendor', 'vendor_event_id']) }} as event_key,
    case
        when vendor_session_id is not null
            then {{ turnout_key(['vendor', 'vendor_event_id', 'vendor_session_id']) }}
    end as session_key,
    {{ person_key('email', 'vendor', 'vendor_person_id') }} as person_key,
    vendor,
    seconds_attended,
    coalesce(attended, false) as attended,
    attention_checks_passed,
    attention_checks_issued,
    attention_checks_required
from {{ ref('int_session_attendance') }}
-- Rows that break the contract are in rejected.fct_session_attendance, with the reason.
where rejection_reason is null
