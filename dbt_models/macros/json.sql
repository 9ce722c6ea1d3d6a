{#
  Reading the JSON that vendors send: DuckDB keeps it as JSON, PostgreSQL as jsonb, and
  the two have different functions for it. Each macro here gives the same text on both.
#}

{#
  The text at `path` in a JSON value, NULL where the path leads nowhere. `path` lists the
  steps: an object's key (a string) or a list's position (a number, 0 the first, -1 the last).
#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'turnout')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    {%- set steps = [] -%}
    {%- for step in path -%}
        {%- if step is number -%}
            {%- do steps.append('[' ~ (step if step >= 0 else '#' ~ step) ~ ']') -%}
        {%- else -%}
            {%- do steps.append('.' ~ step) -%}
        {%- endif -%}
    {%- endfor -%}
    json_extract_string({{ column }}, '${{ steps | join('') }}')
{%- endmacro %}

{% macro postgres__json_text(column, path) -%}
    {%- set steps = [] -%}
    {%- for step in path -%}
        {%- do steps.append("'" ~ (step | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    ({{ column }} #>> array[{{ steps | join(', ') }}]::text[])
{%- endmacro %}

{# A JSON list of texts as a list (array) of text, in the vendor's order. #}
{% macro json_text_list(column) -%}
    {{ return(adapter.dispatch('json_text_list', 'turnout')(column)) }}
{%- endmacro %}

{% macro default__json_text_list(column) -%}
    cast({{ column }} as varchar[])
{%- endmacro %}

{# array() of no rows is an empty array, not NULL: a value that is no list stays NULL. #}
{% macro postgres__json_text_list(column) -%}
    case
        when jsonb_typeof({{ column }}) = 'array' then cast(array(
            select items.value
            from jsonb_array_elements_text({{ column }}) with ordinality as items(value, position)
            order by items.position
        ) as varchar[])
    end
{%- endmacro %}

{#
  The keys of a JSON object as a table of one text column, one row per key, to join
  laterally in a FROM clause, aliased with the column's name (`as language(key)`); no
  rows where the value is no object.
#}
{% macro json_object_keys(column) -%}
    {{ return(adapter.dispatch('json_object_keys', 'turnout')(column)) }}
{%- endmacro %}

{% macro default__json_object_keys(column) -%}
    unnest(json_keys({{ column }}))
{%- endmacro %}

{% macro postgres__json_object_keys(column) -%}
    jsonb_object_keys(case when jsonb_typeof({{ column }}) = 'object' then {{ column }} end)
{%- endmacro %}
