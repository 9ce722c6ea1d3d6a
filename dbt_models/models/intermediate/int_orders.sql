with orders as (
    {{ union_vendor_models('orders', {
        'vendor': 'varchar',
        'vendor_event_id': 'varchar',
        'vendor_order_id': 'varchar',
        'vendor_person_id': 'varchar',
        'email': 'varchar',
        'ordered_at': 'timestamptz',
        'status': 'varchar',
        'currency': 'varchar',
        'tickets': 'bigint',
        'discount_amount': 'decimal(18, 2)',
        'fees_amount': 'decimal(18, 2)',
        'gross_amount': 'decimal(18, 2)',
        'refunded_amount': 'decimal(18, 2)',
        'refunded_at': 'timestamptz',
    }) }}
)

{{ with_rejection_reason('orders', key=['vendor', 'vendor_order_id'],
    parents=[{'relation': ref('int_events'), 'columns': ['vendor', 'vendor_event_id'], 'name': 'event'}]) }}
