-- Every session (Icareus room) loaded is in dim_sessions, once, per vendor.
{{ config(meta={'dagster': {'ref': {'name': 'dim_sessions'}}}) }}
{{ vendor_counts_disagree({
    'opus': ['sessions', 'count(distinct id)'],
    'eventbookings': ['sessions', 'count(*)'],
    'icareus': ['rooms', 'count(distinct room_id)'],
}, 'dim_sessions', 'true') }}
