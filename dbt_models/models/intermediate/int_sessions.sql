with sessions as (
    {{ union_vendor_models('sessions', {
        'vendor': 'varchar',
        'vendor_event_id': 'varchar',
        'vendor_session_id': 'varchar',
        'title': 'varchar',
        'starts_at': 'timestamptz',
        'ends_at': 'timestamptz',
        'public_starts_at': 'timestamptz',
        'public_ends_at': 'timestamptz',
        'room': 'varchar',
    }) }}
)

{{ with_rejection_reason('sessions', key=['vendor', 'vendor_event_id', 'vendor_session_id'],
    parents=[{'relation': ref('int_events'), 'columns': ['vendor', 'vendor_event_id'], 'name': 'event'}]) }}
