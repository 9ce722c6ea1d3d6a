-- Every vendor identity of every person: the vendor's own person id beside the
-- person it was matched to (same normalised email, same person).
select
    {{ turnout_key(['vendor', 'vendor_person_id']) }} as identity_key,
    person_key,
    vendor,
    -- A vendor without person ids (EventBookings) names a person by their email: with the
    -- privacy switch on, that id is hashed as the email is.
    case
        when vendor_person_id = email then {{ personal_data('vendor_person_id') }}
        else vendor_person_id
    end as vendor_person_id,
    {{ personal_data('email') }} as email,
    last_seen_at
from {{ ref('int_people') }}
