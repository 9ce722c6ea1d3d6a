{#
  What a mart publishes: rows that meet its contract. `rejection_reason` says why a
  row of `relation` does not (NULL when it does), first reason first:
    - a key column is empty (`key`),
    - a column the mart needs is empty (`required`),
    - its parent is not published (`parents`: [{"relation", "columns", "name"}],
      the parent's rows matched on the same column names),
    - another row has the same `unique` columns (default: the key; NULLs alike).
  The mart takes the rows without a reason; `rejected.<mart>` shows the others, so a
  row that breaks the contract is never silently dropped, and one vendor's bad rows
  never keep the other vendors' rows out of the marts.
#}
{% macro with_rejection_reason(relation, key, required=[], parents=[], unique=none) -%}
{%- set unique = unique or key %}
select
    checked.*,
    case
        {%- for column in key %}
        when checked.{{ column }} is null then '{{ column }} is empty'
        {%- endfor %}
        {%- for column in required %}
        when checked.{{ column }} is null then '{{ column }} is empty'
        {%- endfor %}
        {%- for parent in parents %}
        when parent_{{ loop.index }}.{{ parent.columns[0] }} is null then 'its {{ parent.name }} is not published'
        {%- endfor %}
        when duplicates.key_rows is not null then 'another row has the same {{ unique | join(", ") }}'
    end as rejection_reason
from {{ relation }} as checked
{%- for parent in parents %}
{%- set alias = 'parent_' ~ loop.index %}
left join (
    select distinct {{ parent.columns | join(', ') }} from {{ parent.relation }} where rejection_reason is null
) as {{ alias }}
    on {% for column in parent.columns %}{{ alias }}.{{ column }} = checked.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
{%- endfor %}
left join (
    select {{ unique | join(', ') }}, count(*) as key_rows
    from {{ relation }}
    group by {{ unique | join(', ') }}
    having count(*) > 1
) as duplicates
    on {% for column in unique -%}
    {{ same_or_both_null('duplicates.' ~ column, 'checked.' ~ column) }}{% if not loop.last %} and {% endif %}
    {%- endfor %}
{%- endmacro %}


{#
  `left` and `right` are the same value, or both NULL, written as two equalities: a
  database can hash-join on those, where it can only compare `is not distinct from` row
  by row (PostgreSQL then took minutes over 50,000 registrations).
#}
{% macro same_or_both_null(left, right) -%}
    coalesce(cast({{ left }} as varchar), '') = coalesce(cast({{ right }} as varchar), '')
    and ({{ left }} is null) = ({{ right }} is null)
{%- endmacro %}
