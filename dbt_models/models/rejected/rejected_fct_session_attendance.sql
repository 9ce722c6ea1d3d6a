-- Rows kept out of marts.fct_session_attendance because they break its contract, with the reason.
{{ config(alias='fct_session_attendance') }}
select *
from {{ ref('int_session_attendance') }}
where rejection_reason is not null
