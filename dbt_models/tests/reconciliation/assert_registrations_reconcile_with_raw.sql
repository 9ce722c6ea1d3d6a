-- Registrations the vendors list now (current versions in raw) = registered in
-- fct_registrations, and every one they ever listed is there, per vendor
-- (waiting lists aside).
{{ config(meta={'dagster': {'ref': {'name': 'fct_registrations'}}}) }}
{{ vendor_counts_disagree({
    'opus': ['registrants', "count(distinct (event_id, registration_id)) filter (where _dlt_valid_to is null)"],
    'eventbookings': ['attendees', "count(distinct (event_uuid, uuid)) filter (where _dlt_valid_to is null)"],
    'brp': ['participants', "count(distinct (event_id, eventbookingid)) filter (where _dlt_valid_to is null)"],
}, 'fct_registrations', "status = 'registered'") }}
union all
{{ vendor_counts_disagree({
    'opus': ['registrants', "count(distinct (event_id, registration_id))"],
    'eventbookings': ['attendees', "count(distinct (event_uuid, uuid))"],
    'brp': ['participants', "count(distinct (event_id, eventbookingid))"],
}, 'fct_registrations', "status <> 'waitlisted'") }}
union all
{{ vendor_counts_disagree({
    'eventbookings': ['waiting_list', "count(distinct (event_uuid, uuid)) filter (where _dlt_valid_to is null)"],
}, 'fct_registrations', "status = 'waitlisted'") }}
