-- Session attendance as OPUS currently lists it. The API names the session
-- only by its identification, which is unique within an event.
with attendance as (
    select * from {{ source('raw_opus', 'session_attendance') }}
    where _dlt_valid_to is null
),

sessions as (
    select vendor_event_id, vendor_session_id, identification from {{ ref('stg_opus__sessions') }}
)

select
    'opus' as vendor,
    cast(attendance.event_id as varchar) as vendor_event_id,
    sessions.vendor_session_id,
    attendance.product_identification as session_identification,
    cast(attendance.user_id as varchar) as vendor_person_id,
    attendance.email,
    {{ to_text('attendance.first_name') }} as first_name,
    {{ to_text('attendance.last_name') }} as last_name,
    {{ to_text('attendance.company') }} as company,
    {{ to_text('attendance.title') }} as job_title,
    {{ to_integer('attendance.total_seconds') }} as seconds_attended,
    coalesce({{ to_integer('attendance.total_seconds') }} > 0, false) as attended,
    {{ to_integer('attendance.alertness') }} as attention_checks_passed,
    {{ to_integer('attendance.alertness_issued') }} as attention_checks_issued,
    {{ to_integer('attendance.alertness_required') }} as attention_checks_required
from attendance
left join sessions
    on sessions.vendor_event_id = cast(attendance.event_id as varchar)
    and sessions.identification = attendance.product_identification
