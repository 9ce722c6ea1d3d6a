-- Everyone BRP names as a participant, one row per person id, latest name.
-- Without an e-mail address a BRP person is never matched to another vendor's.
with ranked as (
    select
        *,
        row_number() over (
            partition by vendor_person_id order by first_seen_at desc, vendor_registration_id desc
        ) as recency
    from {{ ref('stg_brp__registrations') }}
)

select
    'brp' as vendor,
    vendor_person_id,
    email,
    first_name,
    last_name,
    cast(null as varchar) as company,
    cast(null as varchar) as job_title,
    first_seen_at as last_seen_at
from ranked
where recency = 1
