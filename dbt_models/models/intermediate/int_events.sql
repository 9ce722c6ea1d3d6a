with events as (
    {{ union_vendor_models('events', {
        'vendor': 'varchar',
        'vendor_event_id': 'varchar',
        'name': 'varchar',
        'starts_at': 'timestamptz',
        'ends_at': 'timestamptz',
        'public_starts_at': 'timestamptz',
        'public_ends_at': 'timestamptz',
        'timezone': 'varchar',
        'currency': 'varchar',
        'capacity': 'bigint',
        'filled': 'bigint',
        'business_unit': 'varchar',
        'status': 'varchar',
    }) }}
)

{{ with_rejection_reason('events', key=['vendor', 'vendor_event_id'], required=['starts_at']) }}
