select
    'eventbookings' as vendor,
    {{ to_text('tickets.event_uuid') }} as vendor_event_id,
    {{ to_text('tickets.uuid') }} as vendor_ticket_id,
    tickets.list_position,
    {{ to_text('tickets.name') }} as ticket_name,
    {{ to_text('tickets.category') }} as category,
    {{ to_integer('tickets.quantity') }} as quantity,
    {{ to_integer('tickets.quantity_sold') }} as quantity_sold,
    events.currency
from {{ source('raw_eventbookings', 'tickets') }} as tickets
left join {{ ref('stg_eventbookings__events') }} as events on events.vendor_event_id = tickets.event_uuid
