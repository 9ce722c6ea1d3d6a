-- `session_identification` is how OPUS names a session in its attendance; a row
-- whose identification matches none of the event's sessions (the vendor's own
-- sample does this) stays attached to its event, with no session, and is
-- reported by the staging test on `vendor_session_id`.
with attendance as (
    {{ union_vendor_models('session_attendance', {
        'vendor': 'varchar',
        'vendor_event_id': 'varchar',
        'vendor_session_id': 'varchar',
        'session_identification': 'varchar',
        'vendor_person_id': 'varchar',
        'email': 'varchar',
        'seconds_attended': 'bigint',
        'attended': 'boolean',
        'attention_checks_passed': 'bigint',
        'attention_checks_issued': 'bigint',
        'attention_checks_required': 'bigint',
    }) }}
),

referenced as (
    select *, coalesce(vendor_session_id, session_identification) as session_reference
    from attendance
)

{{ with_rejection_reason('referenced', key=['vendor', 'vendor_event_id', 'vendor_person_id'],
    unique=['vendor', 'vendor_event_id', 'session_reference', 'vendor_person_id'],
    parents=[{'relation': ref('int_events'), 'columns': ['vendor', 'vendor_event_id'], 'name': 'event'}]) }}
