-- Icareus gives instants (milliseconds since the epoch) with durations in
-- seconds, and no time zone. Texts come in every language the event has; the
-- marts read them in the event's default language.
with events as (
    select *, coalesce({{ to_text('default_language') }}, 'en_US') as language
    from {{ source('raw_icareus', 'events') }}
)

-- Not given by Icareus, so not here: timezone, currency, capacity, filled,
-- business_unit, status (NULL in the cross-vendor union, see union_vendor_models).
select
    'icareus' as vendor,
    cast(event_id as varchar) as vendor_event_id,
    {{ in_language('name', 'language') }} as name,
    {{ in_language('public_name', 'language') }} as public_name,
    {{ in_language('description', 'language') }} as description,
    language as default_language,
    {{ json_text_list('event_languages') }} as languages,
    {{ to_text('external_id') }} as external_id,
    {{ from_epoch_ms('start_time') }} as starts_at,
    {{ plus_seconds(from_epoch_ms('start_time'), 'duration') }} as ends_at,
    {{ from_epoch_ms('start_time_public') }} as public_starts_at,
    {{ plus_seconds(from_epoch_ms('start_time_public'), 'duration_public') }} as public_ends_at,
    cast(duration as bigint) as duration_seconds,
    cast(is_multiroom as boolean) as is_multiroom,
    cast(main_event_room_id as varchar) as main_room_id,
    cast(event_theme as varchar) as event_theme_id,
    embed_url
from events
