-- Icareus rooms are its sessions: the main room and any breakouts, each with
-- its own times. Room texts are read in the default language of their event.
with events as (
    select event_id, main_event_room_id, coalesce({{ to_text('default_language') }}, 'en_US') as language
    from {{ source('raw_icareus', 'events') }}
)

select
    'icareus' as vendor,
    cast(rooms.event_id as varchar) as vendor_event_id,
    cast(rooms.room_id as varchar) as vendor_session_id,
    {{ in_language('rooms.name', 'events.language') }} as title,
    {{ in_language('rooms.public_name', 'events.language') }} as public_title,
    {{ in_language('rooms.description', 'events.language') }} as description,
    {{ from_epoch_ms('rooms.start_time') }} as starts_at,
    {{ plus_seconds(from_epoch_ms('rooms.start_time'), 'rooms.duration') }} as ends_at,
    {{ from_epoch_ms('rooms.start_time_public') }} as public_starts_at,
    {{ plus_seconds(from_epoch_ms('rooms.start_time_public'), 'rooms.duration_public') }} as public_ends_at,
    {{ in_language('rooms.name', 'events.language') }} as room,
    rooms.room_id = events.main_event_room_id as is_main_room,
    cast(rooms.service_id as varchar) as channel_id
from {{ source('raw_icareus', 'rooms') }} as rooms
inner join events on events.event_id = rooms.event_id
