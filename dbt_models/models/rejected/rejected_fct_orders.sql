-- Rows kept out of marts.fct_orders because they break its contract, with the reason.
{{ config(alias='fct_orders') }}
select *
from {{ ref('int_orders') }}
where rejection_reason is not null
