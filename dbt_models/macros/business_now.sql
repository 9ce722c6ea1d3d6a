{#
  business_now(): the moment every mart judges time by (has an event started, is it
  over, is a registration pending or a no-show), as a TIMESTAMPTZ literal.

  It follows the business date the run loaded for (var `as_of`, 'YYYY-MM-DD', which
  Turnout passes from the run's turnout/as_of tag), not the machine's clock:

  - a run for another business date D (a backfill, a simulated day): the end of D,
    D+1 00:00 UTC, so everything that happened on D counts as past and nothing
    after D does. The vendor's data for D is complete by then; an earlier moment
    would leave D's own events pending until the next run.
  - a run for today (as_of is today's UTC date, or unset, as when dbt runs on its
    own): the moment this dbt invocation started (UTC). Today is not over, so its
    end would call events still to come over. One instant for the whole build, not
    the database's clock per statement, so marts built seconds apart never disagree
    about an event that ends in between.

  A literal keeps the SQL standard: the same text runs on DuckDB and PostgreSQL.
#}
{% macro business_now() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of is not none and as_of | string | trim != '' -%}
        {%- set as_of = as_of | string | trim -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', as_of) -%}
            {{ exceptions.raise_compiler_error("var as_of must be a date, YYYY-MM-DD, not '" ~ as_of ~ "'") }}
        {%- endif -%}
        {%- set business_date = modules.datetime.date.fromisoformat(as_of) -%}
    {%- else -%}
        {%- set business_date = none -%}
    {%- endif -%}
    {%- if business_date is none or business_date == run_started_at.date() -%}
        {%- set moment = run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- else -%}
        {%- set moment = (business_date + modules.datetime.timedelta(days=1)).isoformat() ~ ' 00:00:00' -%}
    {%- endif -%}
    cast('{{ moment }}+00:00' as timestamp with time zone)
{%- endmacro %}
