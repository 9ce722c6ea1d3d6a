{#
  Unions the conformed staging model of one entity across every vendor that
  provides it (var turnout_vendors), selecting the listed columns in order.
#}
{% macro union_vendor_models(entity, columns) -%}
    {%- set models = [] -%}
    {%- for vendor, entities in var('turnout_vendors').items() if entity in entities -%}
        {%- do models.append(ref('stg_' ~ vendor ~ '__' ~ entity)) -%}
    {%- endfor -%}
    {%- for model in models %}
    select {{ columns | join(', ') }} from {{ model }}
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}
{%- endmacro %}
