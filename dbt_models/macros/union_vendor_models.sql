{#
  Unions the conformed model of one entity across every vendor that provides
  it (turnout_vendors(), generated from the registry). `columns` maps each conformed column to
  its type, in order; a vendor's model without a conformed column gives a typed
  NULL there. A vendor that was never loaded has no staging relation at run
  time and is left out; with none at all the result is empty but typed.
#}
{% macro union_vendor_models(entity, columns) -%}
    {%- set models = [] -%}
    {%- for vendor, entities in turnout_vendors().items() if entity in entities -%}
        {%- do models.append(ref(entities[entity])) -%}
    {%- endfor -%}
    {%- set built = [] -%}
    {%- for model in models if not execute or load_relation(model) is not none -%}
        {%- do built.append(model) -%}
    {%- endfor -%}
    {%- for model in built %}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(model) -%}
            {%- do present.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif %}
    select
        {%- for name, type in columns.items() %}
        {% if not execute or name in present %}{{ name }}{% else %}cast(null as {{ type }}) as {{ name }}{% endif %}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
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
