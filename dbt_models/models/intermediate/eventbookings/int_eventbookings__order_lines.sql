select
    'eventbookings' as vendor,
    orders.vendor_event_id,
    orders.vendor_order_id,
    lines.uuid as vendor_order_line_id,
    lines.ticket_uuid as vendor_ticket_id,
    lines.ticket_name,
    {{ to_text('lines.variation') }} as variation,
    {{ to_integer('lines.quantity') }} as quantity,
    {{ money('lines.unit_price') }} as unit_price,
    {{ money('lines.amount') }} as amount,
    orders.currency
from {{ nested_source('raw_eventbookings', 'orders', 'line_items', {'uuid': 'varchar', 'ticket_uuid': 'varchar', 'ticket_name': 'varchar', 'variation': 'varchar', 'quantity': 'bigint', 'unit_price': 'varchar', 'amount': 'varchar'}) }} as lines
inner join {{ source('raw_eventbookings', 'orders') }} as raw_orders on raw_orders._dlt_id = lines._dlt_parent_id
inner join {{ ref('int_eventbookings__orders') }} as orders on orders.vendor_order_id = raw_orders.uuid
