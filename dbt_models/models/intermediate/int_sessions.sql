{{ union_vendor_models('sessions', ['vendor', 'vendor_event_id', 'vendor_session_id', 'title', 'starts_at', 'ends_at', 'room']) }}
