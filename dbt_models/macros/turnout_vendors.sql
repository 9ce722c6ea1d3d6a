{#
  Generated from pipelines/registry.py and the vendors' model files by
  assets/vendor_models.py before each parse: edit those, not this file.
  Per vendor, each entity its models provide and the model providing it.
#}

{% macro turnout_vendors() -%}
{{ return({
    'opus': {
        'attendees': 'stg_opus__attendees',
        'events': 'stg_opus__events',
        'packages': 'stg_opus__packages',
        'people': 'int_opus__people',
        'registrations': 'stg_opus__registrations',
        'session_attendance': 'int_opus__session_attendance',
        'sessions': 'stg_opus__sessions',
        'speakers': 'stg_opus__speakers',
    },
    'eventbookings': {
        'attendees': 'stg_eventbookings__attendees',
        'events': 'stg_eventbookings__events',
        'order_lines': 'int_eventbookings__order_lines',
        'orders': 'int_eventbookings__orders',
        'people': 'int_eventbookings__people',
        'registrations': 'int_eventbookings__registrations',
        'session_attendance': 'int_eventbookings__session_attendance',
        'sessions': 'stg_eventbookings__sessions',
        'ticket_prices': 'int_eventbookings__ticket_prices',
        'tickets': 'int_eventbookings__tickets',
        'waiting_list': 'stg_eventbookings__waiting_list',
    },
    'brp': {
        'events': 'stg_brp__events',
        'people': 'int_brp__people',
        'registrations': 'stg_brp__registrations',
    },
    'icareus': {
        'events': 'stg_icareus__events',
        'sessions': 'stg_icareus__sessions',
        'translations': 'stg_icareus__translations',
    },
}) }}
{%- endmacro %}
