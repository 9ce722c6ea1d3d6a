-- Everyone BRP names as a participant, one row per person id, latest name.
-- Without an e-mail address a BRP person is never matched to another vendor's.
with ranked as (
    select
        *,
        -- NULLs last and texts byte by byte, as DuckDB orders them, so every engine keeps the same row.
        row_number() over (
            partition by vendor_person_id
            order by first_seen_at desc nulls last, {{ bytewise('vendor_registration_id') }} desc nulls last
        ) as recency
    from {{ ref('stg_brp__registrations') }}
)

-- Not given by BRP, so not here: email, company, job_title (NULL in the
-- cross-vendor union, see union_vendor_models).
select
    'brp' as vendor,
    vendor_person_id,
    first_name,
    last_name,
    first_seen_at as last_seen_at
from ranked
where recency = 1
