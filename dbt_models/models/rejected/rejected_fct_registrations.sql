-- Rows kept out of marts.fct_registrations because they break its contract, with the reason.
{{ config(alias='fct_registrations') }}
select *
from {{ ref('int_registrations') }}
where rejection_reason is not null
