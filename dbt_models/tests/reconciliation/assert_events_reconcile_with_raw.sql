-- Every event loaded is in dim_events, once: per vendor, distinct raw events = mart events.
{{ config(meta={'dagster': {'ref': {'name': 'dim_events'}}}) }}
{{ vendor_counts_disagree({
    'opus': ['events', 'count(distinct id)'],
    'eventbookings': ['events', 'count(distinct uuid)'],
    'brp': ['events', 'count(distinct id)'],
    'icareus': ['events', 'count(distinct event_id)'],
}, 'dim_events', 'true') }}
