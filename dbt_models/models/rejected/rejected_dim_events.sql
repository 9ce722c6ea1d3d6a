-- Rows kept out of marts.dim_events because they break its contract, with the reason.
{{ config(alias='dim_events') }}
select *
from {{ ref('int_events') }}
where rejection_reason is not null
