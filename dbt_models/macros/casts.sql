{#
  One rule per type for what vendors send: each cast below reads the value as text,
  trims it, and takes an empty string as NULL, so a field left blank ("") and a field
  never sent read the same. Staging models cast only through these macros.
#}

{# A vendor's naive UTC date-time string ('YYYY-MM-DD HH:MM:SS') as TIMESTAMPTZ. #}
{% macro utc_timestamp(column) -%}
    (cast(nullif(trim(cast({{ column }} as varchar)), '') as timestamp) at time zone 'UTC')
{%- endmacro %}

{# Vendors send numbers as strings, sometimes empty ones. #}
{% macro to_integer(column) -%}
    cast(nullif(trim(cast({{ column }} as varchar)), '') as bigint)
{%- endmacro %}

{# A price string as sent ('$30.0', '£1,250.00', '-$5.00') as DECIMAL(18,2); the symbol is
   dropped because it does not tell AUD from USD: the currency comes from the event. #}
{% macro money(column) -%}
    cast(nullif(regexp_replace(trim(cast({{ column }} as varchar)), '[^0-9.-]', '', 'g'), '') as decimal(18, 2))
{%- endmacro %}

{# The value of one entry of a vendor's [{"name": ..., "value": ...}] list: the first entry
   of that name, in the list's order. #}
{% macro name_value(column, name) -%}
    {{ return(adapter.dispatch('name_value', 'turnout')(column, name)) }}
{%- endmacro %}

{% macro default__name_value(column, name) -%}
    list_filter(
        from_json({{ column }}, '[{"name": "VARCHAR", "value": "VARCHAR"}]'),
        lambda entry: entry.name = '{{ name }}'
    )[1].value
{%- endmacro %}

{# jsonb: an entry that is not an object has no name, and a value that is not a list has no entries. #}
{% macro postgres__name_value(column, name) -%}
    (
        select entries.entry ->> 'value'
        from jsonb_array_elements(
            case when jsonb_typeof({{ column }}) = 'array' then {{ column }} end
        ) with ordinality as entries(entry, position)
        where entries.entry ->> 'name' = '{{ name }}'
        order by entries.position
        limit 1
    )
{%- endmacro %}

{# Vendors send booleans as the strings 'true' and 'false'. #}
{% macro to_boolean(column) -%}
    case lower(trim(cast({{ column }} as varchar))) when 'true' then true when 'false' then false end
{%- endmacro %}

{# Milliseconds since the Unix epoch as TIMESTAMPTZ. #}
{% macro from_epoch_ms(column) -%}
    to_timestamp({{ to_integer(column) }} / 1000.0)
{%- endmacro %}

{# A moment plus a duration given in whole seconds (standard SQL: DuckDB and PostgreSQL alike). #}
{% macro plus_seconds(moment, seconds) -%}
    ({{ moment }} + {{ to_integer(seconds) }} * interval '1 second')
{%- endmacro %}

{# One language of a multilingual {"en_US": ..., "fi_FI": ...} field: the one asked for,
   else English, else the first language the vendor has by its code. By code, not in the
   order sent: PostgreSQL's jsonb keeps no key order, and both engines must agree. #}
{% macro in_language(column, language) -%}
    {{ return(adapter.dispatch('in_language', 'turnout')(column, language)) }}
{%- endmacro %}

{% macro default__in_language(column, language) -%}
    coalesce(
        {{ column }} ->> {{ language }},
        {{ column }} ->> 'en_US',
        {{ column }} ->> list_sort(json_keys({{ column }}))[1]
    )
{%- endmacro %}

{% macro postgres__in_language(column, language) -%}
    coalesce(
        {{ column }} ->> {{ language }},
        {{ column }} ->> 'en_US',
        (
            select texts.value
            from jsonb_each_text(
                case when jsonb_typeof({{ column }}) = 'object' then {{ column }} end
            ) as texts(key, value)
            order by {{ bytewise('texts.key') }}
            limit 1
        )
    )
{%- endmacro %}

{# A vendor's text as a value: trimmed, and an empty string is NULL (a name, an id, a zone). #}
{% macro to_text(column) -%}
    nullif(trim(cast({{ column }} as varchar)), '')
{%- endmacro %}

{# An ISO code (a currency): upper case, and an empty string is NULL. #}
{% macro to_code(column) -%}
    upper({{ to_text(column) }})
{%- endmacro %}
