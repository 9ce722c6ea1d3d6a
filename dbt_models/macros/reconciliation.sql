{#
  Rows per vendor in a raw table against rows per vendor in a mart: one select
  per vendor whose raw table has been loaded, unioned. `raw` maps each vendor to
  (table, SQL counting its rows); `mart` counts the mart's rows of that vendor,
  with the rows its contract rejected (rejected.<mart>) beside them: a rejected
  row was loaded, and is accounted for there.
#}
{% macro vendor_counts_disagree(raw, mart_model, mart_filter) -%}
    {%- set selects = [] -%}
    {%- for vendor, spec in raw.items() if vendor in turnout_vendors() -%}
        {%- set relation = source('raw_' ~ vendor, spec[0]) -%}
        {%- if not execute or load_relation(relation) is not none -%}
            {%- do selects.append(
                "select '" ~ vendor ~ "' as vendor, (select " ~ spec[1] ~ " from " ~ relation ~ ") as raw_rows, "
                ~ "(select count(*) from " ~ ref(mart_model) ~ " where vendor = '" ~ vendor ~ "' and " ~ mart_filter
                ~ ") + (select count(*) from " ~ ref('rejected_' ~ mart_model) ~ " where vendor = '" ~ vendor ~ "' and "
                ~ mart_filter ~ ") as mart_rows"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if selects -%}
    select * from ({{ selects | join(' union all ') }}) as counts where raw_rows <> mart_rows
    {%- else -%}
    select null as vendor, 0 as raw_rows, 0 as mart_rows where 1 = 0
    {%- endif -%}
{%- endmacro %}
