{{ union_vendor_models('session_attendance', {
    'vendor': 'varchar',
    'vendor_event_id': 'varchar',
    'vendor_session_id': 'varchar',
    'vendor_person_id': 'varchar',
    'email': 'varchar',
    'seconds_attended': 'bigint',
    'attended': 'boolean',
    'attention_checks_passed': 'bigint',
    'attention_checks_issued': 'bigint',
    'attention_checks_required': 'bigint',
}) }}
