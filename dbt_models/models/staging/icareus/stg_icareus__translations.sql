-- Every text of every event and room in every language Icareus holds it in,
-- one row each; `is_default_language` marks the one the marts use.
with events as (
    select *, coalesce({{ to_text('default_language') }}, 'en_US') as language
    from {{ source('raw_icareus', 'events') }}
),

rooms as (
    select rooms.*, events.language
    from {{ source('raw_icareus', 'rooms') }} as rooms
    inner join events on events.event_id = rooms.event_id
),

fields as (
    {%- for entity in ['event', 'room'] %}
    {%- for field in ['name', 'public_name', 'description'] %}
    select
        '{{ entity }}' as entity,
        cast(event_id as varchar) as vendor_event_id,
        {{ 'cast(room_id as varchar)' if entity == 'room' else 'cast(null as varchar)' }} as vendor_room_id,
        '{{ field }}' as field,
        {{ field }} as texts,
        language as default_language
    from {{ entity }}s
    where {{ field }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    entity,
    vendor_event_id,
    vendor_room_id,
    field,
    language.key as language,
    fields.texts ->> language.key as text,
    language.key = fields.default_language as is_default_language
from fields, {{ json_object_keys('fields.texts') }} as language(key)
