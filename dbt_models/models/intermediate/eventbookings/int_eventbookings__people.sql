-- Everyone EventBookings names: ticket holders, buyers and people waiting for a ticket.
with named as (
    select vendor_person_id, email, first_name, last_name, updated_at as seen_at
    from {{ ref('stg_eventbookings__attendees') }}
    union all
    select vendor_person_id, email, first_name, last_name, joined_at
    from {{ ref('stg_eventbookings__waiting_list') }}
    union all
    select vendor_person_id, email, first_name, last_name, updated_at
    from {{ ref('int_eventbookings__orders') }}
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

-- Not given by EventBookings, so not here: company, job_title (NULL in the cross-vendor
-- union, see union_vendor_models).
select
    'eventbookings' as vendor,
    vendor_person_id,
    email,
    first_name,
    last_name,
    seen_at as last_seen_at
from ranked
where recency = 1
