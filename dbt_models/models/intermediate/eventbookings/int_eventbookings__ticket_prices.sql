-- One row per ticket type and price variation; donation tickets have no set price.
-- Prices hang on their ticket's row, not its uuid, which a vendor may leave blank.
select
    'eventbookings' as vendor,
    {{ to_text('tickets.event_uuid') }} as vendor_event_id,
    {{ to_text('tickets.uuid') }} as vendor_ticket_id,
    tickets.list_position as ticket_list_position,
    prices._dlt_list_idx as price_list_position,
    {{ to_text('prices.uuid') }} as vendor_price_id,
    {{ to_text('prices.variation') }} as variation,
    {{ money('prices.price') }} as price,
    events.currency,
    {{ to_integer('prices.quantity_included') }} as places_per_ticket,
    {{ to_integer('prices.quantity_sold') }} as quantity_sold
from {{ nested_source('raw_eventbookings', 'tickets', 'pricing_details', {'uuid': 'varchar', 'variation': 'varchar', 'price': 'varchar', 'quantity_included': 'varchar', 'quantity_sold': 'varchar', '_dlt_list_idx': 'bigint'}) }} as prices
inner join {{ source('raw_eventbookings', 'tickets') }} as tickets on tickets._dlt_id = prices._dlt_parent_id
left join {{ ref('stg_eventbookings__events') }} as events on events.vendor_event_id = tickets.event_uuid
