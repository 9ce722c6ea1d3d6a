with registrations as (
    {{ union_vendor_models('registrations', {
        'vendor': 'varchar',
        'vendor_event_id': 'varchar',
        'vendor_registration_id': 'varchar',
        'vendor_person_id': 'varchar',
        'email': 'varchar',
        'registered_at': 'timestamptz',
        'first_seen_at': 'timestamptz',
        'status': 'varchar',
        'cancelled_at': 'timestamptz',
    }) }}
)

{{ with_rejection_reason('registrations', key=['vendor', 'vendor_event_id', 'vendor_registration_id'],
    parents=[{'relation': ref('int_events'), 'columns': ['vendor', 'vendor_event_id'], 'name': 'event'}]) }}
