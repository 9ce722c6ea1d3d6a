-- Every order's money adds up to the cent: lines sum to the subtotal, the charge is
-- subtotal less discount plus fees, refunds never exceed the charge, and the
-- order's own currency (where given) is its event's.
with lines as (
    select vendor_order_id, sum(amount) as lines_amount, sum(unit_price * quantity) as priced_amount
    from {{ ref('int_eventbookings__order_lines') }}
    group by vendor_order_id
)

select orders.vendor_order_id
from {{ ref('int_eventbookings__orders') }} as orders
left join lines on lines.vendor_order_id = orders.vendor_order_id
where coalesce(lines.lines_amount, 0) <> orders.subtotal_amount
    or coalesce(lines.priced_amount, 0) <> orders.subtotal_amount
    or orders.gross_amount <> orders.subtotal_amount - orders.discount_amount + orders.fees_amount
    or orders.refunded_amount > orders.gross_amount
    or orders.order_currency <> orders.currency
