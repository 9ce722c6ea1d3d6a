-- Every vendor identity with the person it belongs to: same normalised email,
-- same person; an identity without an email stays a person of its own.
-- Stored, not a view: each vendor's people come from windows over every version of
-- its registrations and attendance, and dim_people, bridge_person_identities and the
-- tests all read them; as a view each of them computed the whole chain again.
{{ config(materialized='table') }}
with identities as (
    {{ union_vendor_models('people', {
        'vendor': 'varchar',
        'vendor_person_id': 'varchar',
        'email': 'varchar',
        'first_name': 'varchar',
        'last_name': 'varchar',
        'company': 'varchar',
        'job_title': 'varchar',
        'last_seen_at': 'timestamptz',
    }) }}
)

select
    {{ person_key('email', 'vendor', 'vendor_person_id') }} as person_key,
    {{ normalised_email('email') }} as email,
    vendor,
    vendor_person_id,
    first_name,
    last_name,
    company,
    job_title,
    last_seen_at
from identities
