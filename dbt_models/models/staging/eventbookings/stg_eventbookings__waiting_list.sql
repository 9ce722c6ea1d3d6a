-- People on an event's waiting list now: the current version of each entry.
-- One who left the list, or got a ticket (and so became a ticket holder), is
-- no longer waiting and is left out. Until a run has loaded a waiting list the
-- table may not exist: the view is then empty.
{%- set waiting_list = source('raw_eventbookings', 'waiting_list') %}
{%- if execute and load_relation(waiting_list) is none %}
select
    cast(null as varchar) as vendor,
    cast(null as varchar) as vendor_event_id,
    cast(null as varchar) as vendor_entry_id,
    cast(null as varchar) as vendor_person_id,
    cast(null as varchar) as email,
    cast(null as varchar) as first_name,
    cast(null as varchar) as last_name,
    cast(null as bigint) as tickets_wanted,
    cast(null as timestamptz) as joined_at,
    cast(null as varchar) as status
where 1 = 0
{%- else %}
select
    'eventbookings' as vendor,
    event_uuid as vendor_event_id,
    uuid as vendor_entry_id,
    coalesce({{ normalised_email('email') }}, uuid) as vendor_person_id,
    email,
    nullif(first_name, '') as first_name,
    nullif(last_name, '') as last_name,
    {{ to_integer('quantity') }} as tickets_wanted,
    {{ utc_timestamp('created_on__utc') }} as joined_at,
    'waitlisted' as status
from {{ waiting_list }}
where _dlt_valid_to is null
{%- endif %}
