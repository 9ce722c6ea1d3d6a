select
    'opus' as vendor,
    cast(event_id as varchar) as vendor_event_id,
    cast(id as varchar) as vendor_speaker_id,
    {{ to_text('first_name') }} as first_name,
    {{ to_text('last_name') }} as last_name,
    {{ to_text('company') }} as company,
    {{ to_text('title') }} as job_title,
    email
from {{ source('raw_opus', 'speakers') }}
