{#
  Whether `column` names a vendor that provides `entity` (var turnout_vendors), as a
  SQL condition: marts say NULL, not 0, for figures a vendor cannot give.
#}
{% macro vendor_provides(column, entity) -%}
    {%- set vendors = [] -%}
    {%- for vendor, entities in var('turnout_vendors').items() if entity in entities -%}
        {%- do vendors.append("'" ~ vendor ~ "'") -%}
    {%- endfor -%}
    {%- if vendors -%}{{ column }} in ({{ vendors | join(', ') }}){%- else -%}false{%- endif -%}
{%- endmacro %}
