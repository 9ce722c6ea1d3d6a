-- One row per ticket type and price variation; donation tickets have no set price.
select
    'eventbookings' as vendor,
    tickets.vendor_event_id,
    tickets.vendor_ticket_id,
    prices.uuid as vendor_price_id,
    nullif(prices.variation, '') as variation,
    {{ money('prices.price') }} as price,
    tickets.currency,
    {{ to_integer('prices.quantity_included') }} as places_per_ticket,
    {{ to_integer('prices.quantity_sold') }} as quantity_sold
from {{ nested_source('raw_eventbookings', 'tickets', 'pricing_details') }} as prices
inner join {{ source('raw_eventbookings', 'tickets') }} as raw_tickets on raw_tickets._dlt_id = prices._dlt_parent_id
inner join {{ ref('stg_eventbookings__tickets') }} as tickets
    on tickets.vendor_event_id = raw_tickets.event_uuid and tickets.vendor_ticket_id = raw_tickets.uuid
