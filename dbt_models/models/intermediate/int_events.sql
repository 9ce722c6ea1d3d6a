{{ union_vendor_models('events', ['vendor', 'vendor_event_id', 'name', 'starts_at', 'ends_at', 'timezone', 'capacity', 'status']) }}
