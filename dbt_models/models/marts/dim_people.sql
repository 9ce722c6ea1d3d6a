-- One person per normalised email across vendors, with the most recently seen details.
with ranked as (
    select
        *,
        row_number() over (
            partition by person_key
            order by last_seen_at desc nulls last, {{ bytewise('vendor') }}, {{ bytewise('vendor_person_id') }}
        ) as recency
    from {{ ref('int_people') }}
),

identity_counts as (
    select person_key, count(*) as vendor_identities
    from {{ ref('int_people') }}
    group by person_key
)

select
    ranked.person_key,
    {{ personal_data('ranked.email') }} as email,
    {{ personal_data('ranked.first_name') }} as first_name,
    {{ personal_data('ranked.last_name') }} as last_name,
    ranked.company,
    ranked.job_title,
    identity_counts.vendor_identities
from ranked
inner join identity_counts on identity_counts.person_key = ranked.person_key
where ranked.recency = 1
