select
    'opus' as vendor,
    cast(event_id as varchar) as vendor_event_id,
    cast(id as varchar) as vendor_speaker_id,
    nullif(first_name, '') as first_name,
    nullif(last_name, '') as last_name,
    nullif(company, '') as company,
    nullif(title, '') as job_title,
    email
from {{ source('raw_opus', 'speakers') }}
