select
    'eventbookings' as vendor,
    tickets.event_uuid as vendor_event_id,
    tickets.uuid as vendor_ticket_id,
    tickets.name as ticket_name,
    tickets.category,
    {{ to_integer('tickets.quantity') }} as quantity,
    {{ to_integer('tickets.quantity_sold') }} as quantity_sold,
    events.currency
from {{ source('raw_eventbookings', 'tickets') }} as tickets
left join {{ ref('stg_eventbookings__events') }} as events on events.vendor_event_id = tickets.event_uuid
