-- The latest version of each registration: still listed by OPUS (registered)
-- or no longer listed (cancelled, at the time it was first seen gone).
with versions as (
    select
        *,
        row_number() over (
            partition by event_id, registration_id order by _dlt_valid_from desc
        ) as version_rank
    from {{ source('raw_opus', 'registrants') }}
)

-- Not given by OPUS, so not here: first_seen_at (NULL in the cross-vendor union, see
-- union_vendor_models).
select
    'opus' as vendor,
    cast(event_id as varchar) as vendor_event_id,
    cast(registration_id as varchar) as vendor_registration_id,
    cast(user_id as varchar) as vendor_person_id,
    email,
    {{ to_text('user_first_name') }} as first_name,
    {{ to_text('user_last_name') }} as last_name,
    {{ to_text('user_company') }} as company,
    {{ to_text('user_title') }} as job_title,
    {{ utc_timestamp('registered') }} as registered_at,
    case when _dlt_valid_to is null then 'registered' else 'cancelled' end as status,
    _dlt_valid_to as cancelled_at,
    source as registration_source
from versions
where version_rank = 1
