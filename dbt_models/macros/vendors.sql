{#
  Whether `column` names a vendor that provides `entity` (turnout_vendors(),
  generated from the registry), as a SQL condition: marts say NULL, not 0, for
  figures a vendor cannot give.
#}
{% macro vendor_provides(column, entity) -%}
    {%- set vendors = [] -%}
    {%- for vendor, entities in turnout_vendors().items() if entity in entities -%}
        {%- do vendors.append("'" ~ vendor ~ "'") -%}
    {%- endfor -%}
    {%- if vendors -%}{{ column }} in ({{ vendors | join(', ') }}){%- else -%}false{%- endif -%}
{%- endmacro %}

{# The registered vendors' names, in the registry's order. #}
{% macro turnout_vendor_names() -%}
    {{ return(turnout_vendors().keys() | list) }}
{%- endmacro %}
