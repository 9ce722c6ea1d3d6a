-- Everyone OPUS names: registrants, event attendees and session attendees.
with named as (
    select vendor_person_id, email, first_name, last_name, company, job_title, registered_at as seen_at
    from {{ ref('stg_opus__registrations') }}
    union all
    select vendor_person_id, email, first_name, last_name, company, job_title, cast(null as timestamptz)
    from {{ ref('stg_opus__attendees') }}
    union all
    select vendor_person_id, email, first_name, last_name, company, job_title, cast(null as timestamptz)
    from {{ ref('int_opus__session_attendance') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by vendor_person_id
            order by seen_at desc nulls last, {{ bytewise('email') }}, {{ bytewise('first_name') }}, {{ bytewise('last_name') }}
        ) as recency
    from named
)

select
    'opus' as vendor,
    vendor_person_id,
    email,
    first_name,
    last_name,
    company,
    job_title,
    seen_at as last_seen_at
from ranked
where recency = 1
