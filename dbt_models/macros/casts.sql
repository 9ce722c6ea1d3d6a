{# A vendor's naive UTC date-time string ('YYYY-MM-DD HH:MM:SS') as TIMESTAMPTZ. #}
{% macro utc_timestamp(column) -%}
    (cast(nullif(trim(cast({{ column }} as varchar)), '') as timestamp) at time zone 'UTC')
{%- endmacro %}

{# Vendors send numbers as strings, sometimes empty ones. #}
{% macro to_integer(column) -%}
    cast(nullif(trim(cast({{ column }} as varchar)), '') as bigint)
{%- endmacro %}
