{{ union_vendor_models('registrations', ['vendor', 'vendor_event_id', 'vendor_registration_id', 'vendor_person_id', 'email', 'registered_at', 'status', 'cancelled_at']) }}
