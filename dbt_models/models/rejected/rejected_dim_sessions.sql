-- Rows kept out of marts.dim_sessions because they break its contract, with the reason.
{{ config(alias='dim_sessions') }}
select *
from {{ ref('int_sessions') }}
where rejection_reason is not null
