-- Event-level attendance totals as OPUS currently lists them.
select
    'opus' as vendor,
    cast(event_id as varchar) as vendor_event_id,
    cast(id as varchar) as vendor_person_id,
    email,
    {{ to_text('first_name') }} as first_name,
    {{ to_text('last_name') }} as last_name,
    {{ to_text('company') }} as company,
    {{ to_text('title') }} as job_title,
    {{ to_integer('total_seconds') }} as seconds_attended,
    {{ to_integer('alertness') }} as attention_checks_passed,
    {{ to_integer('alertness_issued') }} as attention_checks_issued,
    {{ to_integer('alertness_required') }} as attention_checks_required
from {{ source('raw_opus', 'attendees') }}
where _dlt_valid_to is null
