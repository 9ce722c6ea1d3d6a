select
    {{ turnout_key(['vendor', 'vendor_event_id', 'vendor_registration_id']) }} as registration_key,
    {{ turnout_key(['vendor', 'vendor_event_id']) }} as event_key,
    {{ person_key('email', 'vendor', 'vendor_person_id') }} as person_key,
    vendor,
    vendor_registration_id,
    registered_at,
    status,
    cancelled_at
from {{ ref('int_registrations') }}
