-- One row per registration, with what became of it: the registration status
-- (registered, cancelled, waitlisted where a vendor has one) and, at vendors
-- that record attendance, whether the person came.
with registrations as (
    select
        {{ turnout_key(['vendor', 'vendor_event_id', 'vendor_registration_id']) }} as registration_key,
        {{ turnout_key(['vendor', 'vendor_event_id']) }} as event_key,
        {{ person_key('email', 'vendor', 'vendor_person_id') }} as person_key,
        vendor,
        vendor_registration_id,
        registered_at,
        first_seen_at,
        status,
        cancelled_at
    from {{ ref('int_registrations') }}
    -- Rows that break the contract are in rejected.fct_registrations, with the reason.
    where rejection_reason is null
),

attended as (
    select distinct event_key, person_key
    from {{ ref('fct_session_attendance') }}
    where attended
)

select
    registrations.*,
    -- Judged at the run's business moment (business_now), not by the machine's clock.
    case
        when not {{ vendor_provides('registrations.vendor', 'session_attendance') }} then null
        when registrations.status <> 'registered' then null
        -- Attendance at an event that had not started by then happened after it (a backfill
        -- reads the vendor's records of today).
        when events.starts_at > {{ business_now() }} then 'pending'
        when attended.person_key is not null then 'attended'
        when events.ends_at >= {{ business_now() }} or events.ends_at is null then 'pending'
        else 'no_show'
    end as attendance_status
from registrations
inner join {{ ref('dim_events') }} as events on events.event_key = registrations.event_key
left join attended
    on attended.event_key = registrations.event_key
    and attended.person_key = registrations.person_key
