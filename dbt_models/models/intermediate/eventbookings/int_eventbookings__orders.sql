-- Money is parsed from the vendor's strings; the currency is the event's, since
-- a '$' does not tell AUD from USD. The gross amount is what the buyer was
-- charged: subtotal less discount plus fees.
with tickets_per_order as (
    select _dlt_parent_id, sum({{ to_integer('quantity') }}) as tickets
    from {{ nested_source('raw_eventbookings', 'orders', 'line_items', {'uuid': 'varchar', 'ticket_uuid': 'varchar', 'ticket_name': 'varchar', 'variation': 'varchar', 'quantity': 'bigint', 'unit_price': 'varchar', 'amount': 'varchar'}) }}
    group by _dlt_parent_id
)

select
    'eventbookings' as vendor,
    orders.event_uuid as vendor_event_id,
    orders.uuid as vendor_order_id,
    orders.order_number,
    orders.status,
    events.currency,
    {{ to_code('orders.currency') }} as order_currency,
    coalesce({{ normalised_email('orders.buyer__email') }}, orders.buyer__uuid) as vendor_person_id,
    orders.buyer__email as email,
    {{ to_text('orders.buyer__first_name') }} as first_name,
    {{ to_text('orders.buyer__last_name') }} as last_name,
    cast(coalesce(tickets_per_order.tickets, 0) as bigint) as tickets,
    {{ money('orders.subtotal') }} as subtotal_amount,
    -- Cast again: PostgreSQL's coalesce forgets the scale, and a 0 would read 0, not 0.00.
    cast(coalesce({{ money('orders.discount') }}, 0) as decimal(18, 2)) as discount_amount,
    cast(coalesce({{ money('orders.fees') }}, 0) as decimal(18, 2)) as fees_amount,
    {{ money('orders.total') }} as gross_amount,
    cast(coalesce({{ money('orders.refunded_amount') }}, 0) as decimal(18, 2)) as refunded_amount,
    orders.payment_method,
    {{ utc_timestamp('orders.ordered_on__utc') }} as ordered_at,
    {{ utc_timestamp('orders.refunded_on__utc') }} as refunded_at,
    {{ utc_timestamp('orders.created_on') }} as created_at,
    {{ utc_timestamp('orders.updated_on') }} as updated_at
from {{ source('raw_eventbookings', 'orders') }} as orders
left join {{ ref('stg_eventbookings__events') }} as events on events.vendor_event_id = orders.event_uuid
left join tickets_per_order on tickets_per_order._dlt_parent_id = orders._dlt_id
