{#
  Text that compares byte by byte (by code point in UTF-8), as DuckDB always compares it,
  whatever collation the PostgreSQL database was created with: where the order of texts
  decides a result (the row a window keeps, the min of a group), an en_US collation would
  pick another row than DuckDB.
#}
{% macro bytewise(column) -%}
    {{ return(adapter.dispatch('bytewise', 'turnout')(column)) }}
{%- endmacro %}

{% macro default__bytewise(column) -%}
    {{ column }}
{%- endmacro %}

{% macro postgres__bytewise(column) -%}
    ({{ column }} collate "C")
{%- endmacro %}

{# The least text of a group, byte by byte as bytewise; the result keeps the database's own
   collation, so comparing it further on behaves like any other text. #}
{% macro bytewise_min(column) -%}
    {{ return(adapter.dispatch('bytewise_min', 'turnout')(column)) }}
{%- endmacro %}

{% macro default__bytewise_min(column) -%}
    min({{ column }})
{%- endmacro %}

{% macro postgres__bytewise_min(column) -%}
    (min({{ column }} collate "C") collate "default")
{%- endmacro %}
