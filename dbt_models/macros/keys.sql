{# A stable surrogate key: md5 of the parts joined with '|', nulls as ''. #}
{% macro turnout_key(parts) -%}
    md5({%- for part in parts -%}coalesce(cast({{ part }} as varchar), ''){%- if not loop.last %} || '|' || {% endif -%}{%- endfor -%})
{%- endmacro %}

{# Same normalised email, same person, across vendors. #}
{% macro normalised_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{# The person behind a vendor identity: by normalised email, else by the vendor's own id. #}
{% macro person_key(email, vendor, vendor_person_id) -%}
    case
        when {{ normalised_email(email) }} is not null then {{ turnout_key([normalised_email(email)]) }}
        else {{ turnout_key(["'id'", vendor, vendor_person_id]) }}
    end
{%- endmacro %}

{#
  A nested table dlt loads beside its parent (orders -> orders__line_items). It is
  reached through the parent's source, so lineage stays one asset per dlt resource.
  dlt creates it with the first nested row, so until then it reads as an empty,
  typed table of `columns` (name: type) beside dlt's parent link.
#}
{% macro nested_source(source_name, parent, child, columns) -%}
    {%- set relation = source(source_name, parent).incorporate(path={"identifier": parent ~ "__" ~ child}) -%}
    {%- if execute and load_relation(relation) is none -%}
    (select cast(null as varchar) as _dlt_parent_id, cast(null as varchar) as _dlt_id
        {%- for name, type in columns.items() %}, cast(null as {{ type }}) as {{ name }}{% endfor %}
    where 1 = 0)
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#
  Emails and names in the marts: as they are, or, with the privacy switch on
  (var hash_personal_data), a stable SHA-256 hash: the same input gives the same
  hash, so joins and counts still work, but the text is not readable.
#}
{% macro personal_data(column) -%}
    {%- if var('hash_personal_data', false) | string | lower in ('true', '1', 'yes') -%}
        case when {{ column }} is not null then {{ sha256_hex("'turnout:' || " ~ column) }} end
    {%- else -%}
        {{ column }}
    {%- endif -%}
{%- endmacro %}

{#
  The SHA-256 of a text as 64 lower-case hex digits. DuckDB's sha256 takes text and gives
  hex; PostgreSQL's takes bytes and gives bytes, so it is wrapped to give the same text.
#}
{% macro sha256_hex(text) -%}
    {{ return(adapter.dispatch('sha256_hex', 'turnout')(text)) }}
{%- endmacro %}

{% macro default__sha256_hex(text) -%}
    sha256({{ text }})
{%- endmacro %}

{% macro postgres__sha256_hex(text) -%}
    encode(sha256(convert_to({{ text }}, 'UTF8')), 'hex')
{%- endmacro %}
