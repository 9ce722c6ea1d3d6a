-- The latest version of each booking: still listed by BRP (registered) or no
-- longer listed (cancelled, at the time it was first seen gone). BRP gives
-- neither a booking time nor an e-mail address.
with versions as (
    select
        *,
        row_number() over (
            partition by event_id, eventbookingid order by _dlt_valid_from desc
        ) as version_rank
    from {{ source('raw_brp', 'participants') }}
)

-- Not given by BRP, so not here: email, registered_at (NULL in the cross-vendor union,
-- see union_vendor_models).
select
    'brp' as vendor,
    cast(event_id as varchar) as vendor_event_id,
    cast(eventbookingid as varchar) as vendor_registration_id,
    cast(personid as varchar) as vendor_person_id,
    nullif(trim(firstname), '') as first_name,
    nullif(trim(lastname), '') as last_name,
    _dlt_valid_from as first_seen_at,
    case when _dlt_valid_to is null then 'registered' else 'cancelled' end as status,
    _dlt_valid_to as cancelled_at
from versions
where version_rank = 1
