select
    {{ turnout_key(['vendor', 'vendor_order_id']) }} as order_key,
    {{ turnout_key(['vendor', 'vendor_event_id']) }} as event_key,
    {{ person_key('email', 'vendor', 'vendor_person_id') }} as person_key,
    vendor,
    vendor_order_id,
    ordered_at,
    status,
    currency,
    tickets,
    discount_amount,
    fees_amount,
    gross_amount,
    refunded_amount,
    cast(gross_amount - refunded_amount as decimal(18, 2)) as net_amount,
    refunded_at
from {{ ref('int_orders') }}
-- Rows that break the contract are in rejected.fct_orders, with the reason.
where rejection_reason is null
