{#
  Unions the conformed staging model of one entity across every vendor that
  provides it (var turnout_vendors). `columns` maps each conformed column to
  its type, in order. A vendor that was never loaded has no staging relation
  at run time and is left out; with none at all the result is empty but typed.
#}
{% macro union_vendor_models(entity, columns) -%}
    {%- set models = [] -%}
    {%- for vendor, entities in var('turnout_vendors').items() if entity in entities -%}
        {%- do models.append(ref('stg_' ~ vendor ~ '__' ~ entity)) -%}
    {%- endfor -%}
    {%- set built = [] -%}
    {%- for model in models if not execute or load_relation(model) is not none -%}
        {%- do built.append(model) -%}
    {%- endfor -%}
    {%- for model in built %}
    select {{ columns.keys() | join(', ') }} from {{ model }}
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- else %}
    select
        {%- for name, type in columns.items() %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where 1 = 0
    {%- endfor %}
{%- endmacro %}
