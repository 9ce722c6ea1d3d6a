"""EventBookings' sample responses as its API reference prints them, and routes that serve them.

From ``eventbookings-api-reference.txt``: the token answer (Authentication, "Generate an
authorization token"), ``1. GET /events`` and ``9. GET /events/{uuid}/sessions``, each copied
as printed. The doc prints no payload for an event's tickets (31), attendees (33), orders (38)
or waiting list (40). Tickets answer the ticket levels the sample event itself lists
(``tickets.levels``); the other three answer empty lists, as on an account's first morning
before anyone has booked. Everything the server adds to the doc is marked "Server addition".
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from tests.doc_samples.server import Answer, Handler, Request

DOC = "eventbookings-api-reference.txt"

# The doc's own placeholders for an application's credentials.
CLIENT_ID = "your_client_id"
CLIENT_SECRET = "your_client_secret"
# The doc posts to https://identity.eventbookings.com/connect/token and calls
# https://eventbooking.com/api/events: one loopback origin stands in for both hosts.
TOKEN_PATH = "/connect/token"
API_PREFIX = "/api"
# An event's lists (the doc's Events table, endpoints 9, 31, 33, 38 and 40), by the key
# each answer lists its items under.
EVENT_LISTS = {
    "sessions": "/events/{uuid}/sessions",
    "tickets": "/events/{uuid}/tickets",
    "attendees": "/events/{uuid}/attendees",
    "orders": "/events/{uuid}/orders",
    "waiting_list": "/events/{uuid}/waiting_list",
}

VENUE_EVENT = "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd"
# The sample's second event is printed as its uuid alone.
BARE_EVENT = "ad3a2eec-bfa2-4975-be73-2fb7ff9850fd"

# The sample event says it is neither live nor ended nor cancelled (`extended_status`), and
# its only dates are `attending_on`: 2024-06-09 23:00 UTC, start and end alike (its `local`
# half reads 2024-07-09 12:30). The load runs the day before, when those flags hold under
# either reading, the event is inside the window whose lists are read, and no one can have
# been checked in yet: the empty attendee, order and waiting lists fit that morning.
AS_OF = "2024-06-08"

# The doc lists `position` and `rows` for every list but gives no default page; 20 is the
# smallest it allows where it bounds `rows` ("20 to 100").
DEFAULT_ROWS = 20

# Printed under "Generate an authorization token".
TOKEN_ANSWER = """\
{
"access_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjJERDUwNUE3OTMxNUUyNjc4NkQwNEFENkMyQUU4RjRFRDBGOTM5Q0ZSUzI1NiIsInR5cCI6ImF0K2p3dCIsIng1dCI6IkxkVUZwNU1WNG1lRzBFcld3cTZQVHRENU9jOCJ9.eyJuYmYiOjE2Nzg3MDY3MzMsImV4cCI6MTY3ODcxMDMzMywiaXNzIjoiaHR0cHM6Ly9pZGVudGl0eS5kaXl3ZWJzaXRlLm5ldC5hdSIsImF1ZCI6IkV2ZW50Qm9va2luZ3NBcGkiLCJjbGllbnRfaWQiOiI0OTViMmE5Mi1iZTZiLTQ3Y2MtYWViNC0xOTkwYWU2NWU5MTYiLCJjbGllbnRfT3JnSWQiOiIzOWJhZDdiNi1kZWNjLTQyYzItOGMwYS00YWJkOTk2NzA5YjIiLCJjbGllbnRfQ3JlYXRvciI6IjhkZDQzYWRkLTA1NWEtNGMzZS1hOGY2LTNhZTI5MWE5ODZlYiIsImp0aSI6IjQ1NkQyRjlGRDFEQUI1QTYxNzNDODFEQkREMjNBNkM3IiwiaWF0IjoxNjc4NzA2NzMzLCJzY29wZSI6WyJhbGwiLCJJZGVudGl0eVNlcnZlckFwaSJdfQ.t3QBwLZR5-0HrYlmhf6RazitkwHEUV9XuqT9sukv5wBOa11NvJZSCTU2FmlZGsFm37p8PEUhdhHV2lspHELZnxa5uhYG1PNOlgzWSJMemlwfokL8ypomLdMJ6p7ZenV9alDpAbGom8IeofB29mu8ZoLQHm-MgFuqHkzXNlbNLX8p188Igd6cF1oeCh6fAyPyx8s9PxfyXgkTUWMblcHmQmsn1iOjtxMyA8_N-5QIc7dxN7PkSO46VlJbwaGdOWe5NazJjs0XFJKEHrRVPLVlBKam0kG1Ua1eAMzmOMrll6DjEwuff72ZKJ8nSdl3kwLjlJZQ3ktgPtvxZWh860A1ah9e2vKnZ6UK5fixg_eQQ958fsxpFkiKdYbGvLQ7Lpsul1LDNwG3dPurun8uQvyZSEjJJtN9FYkYqKLABTj29JI3uB7BnJWQbbKk6QR3pE_u688eymTU5Xbgf_vBp6TtlUdt3FphQvl09sVKw85yhiW6oyfvmaLGssHLTAGEZyTWWq_zRQfLqLA-TIn5yj8D84-5DGmWPmk4WnUqVnB7f98K7ecOWwrVrnyTvlKsPHQmc9Pr96IvBbmdjaZZpqcBRXFFXASFhhye9vb8sSVjswDUvlRe8LWGSDqImAJWtY60QstzZTvUrJOSK8uqxd1e9vjAO0vHef-PRQ32oYVIbP4",
"expires_in": 3600,
"token_type": "Bearer",
"scope": "all IdentityServerApi"
}"""

# "1. GET /events", Response. The doc prints the block as `code{`: "code" is the caption of the
# doc's code block, not part of the payload, so the sample starts at the brace. Printed as valid
# JSON; `occurrence` repeats some keys ("type", "attributes", "value",
# "monthly_recurrence_type"), which JSON readers take by their last value.
EVENTS_ANSWER = """\
{
"events": [
{
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"status": "active",
"extended_status": [
{
"name": "publishing",
"value": "Published"
},
{
"name": "listing",
"value": "Listed"
},
{
"name": "live",
"value": "false"
},
{
"name": "ended",
"value": "false"
},
{
"name": "suspended",
"value": "false"
},
{
"name": "cancelled",
"value": "false"
}
],
"name": "Venue Event",
"display_name": "",
"description": "",
"banner": [
{
"name": "",
"image": "",
"primary": "false"
},
{
"name": "",
"image": "",
"primary": "true"
}
],
"resources": [
[
{
"name": "uuid",
"value": ""
},
{
"name": "order",
"value": 1
},
{
"name": "type",
"value": "video"
},
{
"name": "content",
"value": []
}
],
[
{
"name": "uuid",
"value": ""
},
{
"name": "order",
"value": 1
},
{
"name": "type",
"value": "image"
},
{
"name": "content",
"value": []
}
],
[
{
"name": "uuid",
"value": ""
},
{
"name": "order",
"value": 1
},
{
"name": "type",
"value": "text"
},
{
"name": "content",
"value": []
}
]
],
"links": [
{
"name": "website",
"value": "https://john.doe/"
},
{
"name": "facebook",
"value": "https://john.doe/"
},
{
"name": "instagram",
"value": "https://john.doe/"
},
{
"name": "twitter",
"value": "https://john.doe/"
},
{
"name": "linkedin",
"linkedin": "https://john.doe/li"
}
],
"timezone": "",
"currency": "",
"enable_datetime_conversion": "false",
"tax": [
{
"name": "code",
"value": "GST"
},
{
"name": "rate",
"value": "10"
}
],
"created_on": "",
"updated_on": "",
"attending_on": [
{
"local": "2024-07-09 12:30",
"utc": "2024-06-09 23:00"
},
{
"local": "2024-07-09 12:30",
"utc": "2024-06-09 23:00"
}
],
"org": {
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"name": "Web Mascot",
"slug": "webalive",
"info": "",
"image": "a916c022-c65a-47c8-8ef2-82371ff63823",
"metrics": [
{
"name": "followed_by_me",
"value": "304"
},
{
"name": "follows_me",
"value": "901"
},
{
"name": "review_count",
"value": "53"
},
{
"name": "review_rating_average",
"value": "3.1"
}
],
"interactions": {
"preferences": [
{
"name": "allow_people_to_contact_my_organisation",
"value": "true"
},
{
"name": "allow_people_to_follow_my_organisation",
"value": "true"
}
],
"follows": {
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"created_on": "",
"updated_on": ""
},
"followed_by": {
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"created_on": "",
"updated_on": ""
},
"mutes": {
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"created_on": "",
"updated_on": ""
}
}
},
"coupons": [
{
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"name": "",
"code": "",
"discount_amount": "",
"discount_type": "fixed",
"starts_on": {
"utc": "",
"local": ""
},
"ends_on": {
"utc": "",
"local": ""
},
"uses_per_coupon": 0,
"total_used": 0,
"uses_per_customer": 0,
"status": 0
}
],
"early_bird_discount": {
"discount_type": "percentage",
"discount": "20",
"discount_starts_on": {
"immediately": "true",
"utc": "",
"local": ""
},
"discount_ends_on": {
"continue_until_event_ends": "false",
"utc": "",
"local": ""
}
},
"merchandise": {
"products": [
{
"uuid": "6d3a2eu43-bfa2-4975-be73-2fb7ff9850fd",
"name": "T-shirt",
"code": "TS-00009",
"price": 2.00,
"description": "",
"images": "photo_path",
"qty_available": 100,
"max_qty_per_order": 5,
"min_qty_per_order": 1,
"created_on": "",
"updated_on": ""
},
{
"uuid": "6d3a2eu43-bfa2-4975-be73-2fb7ff9850fd",
"name": "Coffee",
"code": "C-00009",
"price": 2.00,
"description": "",
"images": "photo_path",
"qty_available": 100,
"max_qty_per_order": 10,
"min_qty_per_order": 3,
"created_on": "",
"updated_on": ""
}
]
},
"event_settings_reviewed": false,
"settings": {
"booking_starts_on": {
"immediately": "true",
"utc": "",
"local": "datetime",
"hide_ticket_until_booking_start": "true",
"level": "ticket"
},
"booking_ends_on": {
"continue_until_event_ends": "false",
"utc": "",
"local": "datetime",
"level": "event"
},
"event_capacity": 0,
"terminology": "registration",
"enable_guest_checkout": "true",
"enable_share": "false",
"digital_pass": {
"enabled": "true",
"level": "ticket"
},
"discount": {
"enabled": "true",
"level": "event"
},
"coupon": {
"enabled": "true",
"level": "event"
},
"service_charge": {
"enabled": "true",
"level": "event"
},
"boxoffice": "",
"sell_session_individually": {
"enabled": "true",
"level": "event"
},
"sell_tickets_on_venue": {
"enabled": "true",
"level": "event"
},
"special_instruction": {
"enabled": "true",
"level": "ticket"
},
"waiting_list": {
"enabled": "true",
"level": "event"
},
"tracking_codes": [
{
"type": "code",
"value": "Google analytics"
},
{
"type": "code",
"value": "Google ads"
},
{
"type": "code",
"value": "Facebook pixel"
}
],
"blockout_period": "1440",
"restrictions": [
{
"type": "age",
"enabled": "true",
"level": "event",
"condition": {
"max": 20
}
},
{
"type": "invitation_code",
"enabled": "true",
"level": "ticket",
"condition": {
"code": "DKDH-8376"
}
},
{
"type": "invitation_link",
"enabled": "true",
"level": "event",
"condition": null
},
{
"type": "email",
"enabled": "true",
"level": "ticket",
"condition": {
"contact_list": [
"b973df04-371b-11ed-939a-4ed2bbcd2e26",
"c973df04-371b-11ed-939a-4ed2bbcd2e26"
]
}
}
]
},
"ticket_instruction": "",
"custom_attributes": [
{
"name": "",
"value": ""
},
{
"name": "",
"value": ""
}
],
"occurrence": {
"type": "daily",
"attributes": {
"starts_on": {
"utc": "",
"local": ""
},
"event_duration": 60,
"occurrence_ends": {
"type": "specific_date",
"value": {
"utc": "",
"local": ""
},
"type": "number_of_event",
"value": 10
}
},
"exclusions": [
{
"utc": "",
"local": "event_excluding_time"
},
{
"utc": "",
"local": "event_excluding_time"
},
{
"utc": "",
"local": "event_excluding_time"
}
],
"type": "weekly",
"attributes": {
"starts_on": {
"utc": "",
"local": ""
},
"event_duration": 60,
"occurrence_ends": {
"type": "specific_date",
"value": {
"utc": "",
"local": ""
},
"type": "number_of_event",
"value": 10
},
"days": [
"Sunday",
"Monday"
]
},
"type": "monthly",
"attributes": {
"starts_on": {
"utc": "",
"local": ""
},
"event_duration": 60,
"occurrence_ends": {
"type": "specific_date",
"value": {
"utc": "",
"local": ""
},
"type": "number_of_event",
"value": 10
},
"monthly_recurrence_type": "DAY_NO",
"monthly_recurrence_type": "DAY_NAME"
},
"type": "schedule",
"attributes": [
{
"starts_on": {
"utc": "",
"local": ""
},
"event_duration": 60
},
{
"starts_on": {
"utc": "",
"local": ""
},
"event_duration": 60
}
]
},
"configuration": {
"type": "venue_event",
"attributes": [
{
"name": "venue",
"value": {
"name": "",
"image": "",
"url": "",
"latitude": "",
"longitude": "",
"address": {
"address_line1": "Suite 910",
"address_line2": "9 Yarra St",
"country": "Australia",
"state": "Victoria",
"city": "South Yarra",
"post_code": "3141"
}
}
},
{
"name": "order_form",
"value": {
"enabled": "true",
"list": [
{
"field_name": "",
"ticket": [],
"field_def": {
"label": "",
"type": "string",
"mandatory": "true",
"placeholder": "",
"instruction": "",
"date_format": "mm/dd/yyyy",
"minlength": "",
"maxlength": "",
"information_source": "from_each_attendees",
"option": [
"Australia",
"Bangladesh"
]
}
},
{
"field_name": "",
"ticket": [],
"field_def": {
"label": "",
"type": "string",
"mandatory": "true",
"placeholder": "",
"instruction": "",
"minlength": "",
"maxlength": "",
"information_source": "from_buyer_only",
"option": [
"Male",
"Female"
]
}
}
]
}
}
]
},
"tickets": {
"price_is_fee_inclusive": "",
"price_is_tax_inclusive": "",
"levels": [
{
"uuid": "",
"display_order": "natural",
"name": "Single Ticket WITHOUT Variation",
"description": "",
"quantity": "50",
"max_quantity_per_customer": 1,
"quantity_sold": "30",
"status": 0,
"session_id": 0,
"parent_id": 0,
"category": "ticket",
"url_digital_pass": null,
"pricing_details": [
{
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"variation": "",
"price": "$30.0",
"quantity_included": "1",
"quantity_sold": "30"
}
],
"early_bird_discount": {
"discount_type": "percentage",
"discount": "20",
"discount_starts_on": {
"immediately": true,
"utc": "",
"local": ""
},
"discount_ends_on": {
"continue_until_event_ends": "false",
"utc": "",
"local": ""
}
},
"coupons": [
{
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"name": "",
"code": "",
"discount_amount": "",
"discount_type": "fixed",
"starts_on": {
"utc": "",
"local": ""
},
"ends_on": {
"utc": "",
"local": ""
},
"uses_per_coupon": 0,
"total_used": 0,
"uses_per_customer": 0,
"status": 0
},
{
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"name": "",
"code": "",
"discount_amount": "",
"discount_type": "percentage",
"starts_on": {
"utc": "",
"local": ""
},
"ends_on": {
"utc": "",
"local": ""
},
"uses_per_coupon": 0,
"total_used": 0,
"uses_per_customer": 0,
"status": 0
}
],
"settings": {
"booking_starts_on": {
"immediately": "true",
"hide_ticket_until_booking_start": "false",
"utc": "",
"local": "datetime"
},
"booking_ends_on": {
"continue_until_event_ends": "true",
"utc": "",
"local": "datetime"
},
"enable_sell_ticket_on_venue": "false",
"price_included_service_charge": "true",
"enable_digital_pass": 0,
"enable_waiting_list": "false",
"restrictions": [
{
"type": "age",
"enabled": "true",
"condition": {
"max": 20
}
},
{
"type": "invitation_code",
"enabled": "true",
"condition": {
"code": "DKDH-8376"
}
},
{
"type": "invitation_link",
"enabled": "true",
"condition": null
},
{
"type": "email",
"enabled": "true",
"condition": {
"contact_list": [
"b973df04-371b-11ed-939a-4ed2bbcd2e26",
"c973df04-371b-11ed-939a-4ed2bbcd2e26"
]
}
}
]
},
"ticket_instruction": "",
"custom_attributes": [
{
"name": "",
"value": ""
},
{
"name": "",
"value": ""
}
]
},
{
"uuid": "",
"display_order": "natural",
"name": "This is a donation ticket",
"description": "",
"quantity": "50",
"max_quantity_per_customer": 1,
"quantity_sold": "30",
"status": 0,
"session_id": 0,
"parent_id": 0,
"category": "donation",
"url_digital_pass": null,
"pricing_details": {
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"quantity_included": "1",
"quantity_sold": "30"
},
"settings": {
"booking_starts_on": {
"immediately": "true",
"hide_ticket_until_booking_start": "false",
"utc": "",
"local": ""
},
"booking_ends_on": {
"continue_until_event_ends": "false",
"utc": "",
"local": ""
},
"enable_sell_ticket_on_venue": "false",
"pass_on_fees": "false",
"hide_ticket_until_booking_start": "false",
"enable_waiting_list": "false",
"restrictions": [
{
"type": "age",
"enabled": "true",
"condition": {
"max": 20
}
}
]
}
},
{
"uuid": "",
"display_order": "natural",
"name": "Group Ticket with variation",
"description": "",
"quantity": "50",
"max_quantity_per_customer": 1,
"quantity_sold": "20",
"status": 0,
"session_id": 0,
"parent_id": 0,
"category": "ticket",
"url_digital_pass": null,
"pricing_details": [
{
"uuid": "oa3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"variation": "var 1",
"price": "$300.00",
"quantity_included": "5",
"quantity_sold": "0"
},
{
"uuid": "oa3a2eec-bfa2-4975-be73-3645dfbg356y",
"variation": "var 2",
"price": "$100.00",
"quantity_included": "5",
"quantity_sold": "0"
}
],
"early_bird_discount": {
"discount_type": "percentage",
"discount": "20",
"discount_starts_on": {
"immediately": "true",
"utc": "",
"local": ""
},
"discount_ends_on": {
"continue_until_event_ends": "false",
"utc": "",
"local": ""
}
},
"coupons": [
{
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"name": "",
"code": "",
"discount_amount": "",
"discount_type": "fixed",
"starts_on": {
"utc": "",
"local": ""
},
"ends_on": {
"utc": "",
"local": ""
},
"uses_per_coupon": 0,
"total_used": 0,
"uses_per_customer": 0,
"status": 0
}
],
"settings": {
"booking_starts_on": {
"immediately": true,
"hide_ticket_until_booking_start": "false",
"utc": "",
"local": "datetime"
},
"booking_ends_on": {
"continue_until_event_ends": "true",
"utc": "",
"local": "datetime"
},
"enable_sell_ticket_on_venue": "false",
"price_included_service_charge": "true",
"enable_digital_pass": 0,
"enable_waiting_list": "false",
"restrictions": [
{
"type": "age",
"enabled": "true",
"condition": {
"max": 20
}
}
]
},
"ticket_instruction": "",
"custom_attributes": [
{
"name": "",
"value": ""
},
{
"name": "",
"value": ""
}
]
}
]
},
"listing": {
"enabled": "true",
"categories": [
{
"uuid": "",
"name": "",
"description": "",
"url": "",
"image": ""
},
{
"uuid": "",
"name": "",
"description": "",
"url": "",
"image": ""
}
],
"tags": [
{
"uuid": "",
"name": "",
"description": "",
"url": "",
"image": ""
},
{
"uuid": "",
"name": "",
"description": "",
"url": "",
"image": ""
}
]
},
"sessions": {
"enabled": "true",
"session_lists": [
{
"type": "required",
"uuid": "",
"status": "active",
"name": " Session One",
"display_name": "",
"description": "",
"image": "",
"created_on": "",
"updated_on": "",
"configuration": {
"attributes": [
{
"name": "venue",
"value": {
"name": "",
"image": "",
"url": "",
"latitude": "",
"longitude": "",
"address": {
"address_line1": "Suite 910",
"address_line2": "9 Yarra St",
"country": "Australia",
"state": "Victoria",
"city": "South Yarra",
"post_code": "3141"
}
}
}
]
},
"tickets": {
"levels": [
{
"uuid": "",
"display_order": "natural",
"name": "Single Ticket WITHOUT Variation",
"description": "",
"quantity": "50",
"max_quantity_per_customer": "1",
"quantity_sold": "",
"pricing_details": [
{
"uuid": "variation",
"price": "$30.0",
"quantity_included": "1",
"quantity_sold": ""
}
],
"early_bird_discount": {
"discount_type": "percentage",
"discount": "20",
"discount_starts_on": {
"utc": "",
"local": ""
},
"discount_ends_on": {
"utc": "",
"local": ""
}
}
},
{
"uuid": "",
"display_order": "1",
"name": "Single Ticket WITH Variation",
"description": "",
"quantity": "100",
"max_quantity_per_customer": "1",
"quantity_sold": "",
"pricing_details": [
{
"variation": "Gold",
"price": "$30.0",
"quantity_included": "1",
"quantity_sold": ""
},
{
"variation": "Silver",
"price": "$30.0",
"quantity_included": "1",
"quantity_sold": ""
}
],
"early_bird_discount": {
"discount_type": "fixed",
"discount": "5",
"discount_starts_on": {
"utc": "",
"local": ""
},
"discount_ends_on": {
"utc": "",
"local": ""
}
}
},
{
"uuid": "",
"display_order": "natural",
"name": "Group Ticket",
"description": "",
"quantity": "100",
"max_quantity_per_customer": "1",
"quantity_sold": "",
"pricing_details": [
{
"variation": "",
"price": "$300.00",
"quantity_included": "5",
"quantity_sold": ""
}
],
"early_bird_discount": {
"discount_type": "percentage",
"discount": "20",
"discount_starts_on": {
"utc": "",
"local": ""
},
"discount_ends_on": {
"utc": "",
"local": ""
}
}
}
]
},
"session_booking_starts_on": {
"utc": "",
"local": ""
},
"session_booking_ends_on": {
"utc": "",
"local": ""
},
"session_starts_on": {
"utc": "",
"local": ""
},
"session_ends_on": {
"utc": "",
"local": ""
}
},
{
"type": "optional",
"uuid": "",
"status": "active",
"name": "Session Two (Optional)",
"display_name": "",
"description": "",
"image": "",
"created_on": "",
"updated_on": "",
"configuration": {
"attributes": [
{
"name": "venue",
"value": {
"name": "",
"image": "",
"url": "",
"latitude": "",
"longitude": "",
"address": {
"address_line1": "Suite 910",
"address_line2": "9 Yarra St",
"country": "Australia",
"state": "Victoria",
"city": "South Yarra",
"post_code": "3141"
}
}
}
]
},
"tickets": {
"levels": [
{
"uuid": "",
"display_order": "natural",
"name": "Single Ticket WITHOUT Variation",
"description": "",
"quantity": "50",
"max_quantity_per_customer": "1",
"quantity_sold": "",
"pricing_details": [
{
"variation": "",
"price": "$30.0",
"quantity_included": "1",
"quantity_sold": ""
}
],
"early_bird_discount": {
"discount_type": "percentage",
"discount": "20",
"discount_starts_on": {
"utc": "",
"local": ""
},
"discount_ends_on": {
"utc": "",
"local": ""
}
}
},
{
"uuid": "",
"display_order": "1",
"name": "Single Ticket WITH Variation",
"description": "",
"quantity": "100",
"max_quantity_per_customer": "1",
"quantity_sold": "",
"pricing_details": [
{
"variation": "Gold",
"price": "$30.0",
"quantity_included": "1",
"quantity_sold": ""
},
{
"variation": "Silver",
"price": "$30.0",
"quantity_included": "1",
"quantity_sold": ""
}
],
"early_bird_discount": {
"discount_type": "fixed",
"discount": "5",
"discount_starts_on": {
"utc": "",
"local": ""
},
"discount_ends_on": {
"utc": "",
"local": ""
}
}
},
{
"uuid": "",
"display_order": "natural",
"name": "Group Ticket",
"description": "",
"quantity": "100",
"max_quantity_per_customer": "1",
"quantity_sold": "",
"pricing_details": [
{
"variation": "",
"price": "$300.00",
"quantity_included": "5",
"quantity_sold": ""
}
],
"early_bird_discount": {
"discount_type": "percentage",
"discount": "20",
"discount_starts_on": {
"utc": "",
"local": ""
},
"discount_ends_on": {
"utc": "",
"local": ""
}
}
}
]
},
"session_booking_starts_on": {
"utc": "",
"local": ""
},
"session_booking_ends_on": {
"utc": "",
"local": ""
},
"session_starts_on": {
"utc": "",
"local": ""
},
"session_ends_on": {
"utc": "",
"local": ""
}
}
]
},
"refund": {
"available": "true",
"policy": {
"cancel_before_event_starts": "7",
"automatic": "false"
}
},
"metrics": [
{
"name": "shared_count",
"value": "304"
},
{
"name": "saved_count",
"value": "901"
},
{
"name": "review_count",
"value": "53"
},
{
"name": "review_rating_average",
"value": "3.1"
}
],
"fees": {
"currency": "",
"pass_on": "true",
"rate": [
{
"name": "eventbookings_service_fee_fixed",
"value": "0.3"
},
{
"name": "eventbookings_service_fee_percentage",
"value": "3.4"
},
{
"name": "payment_processing_fee_fixed",
"value": "0"
},
{
"name": "payment_processing_fee_percentage",
"value": "0"
}
],
"price_is_tax_inclusive": "",
"tax": [
{
"name": "code",
"value": "GST"
},
{
"name": "rate",
"value": "10"
}
]
},
"activities": [
{
"name": "events_hosted",
"value": "304",
"meta": {
"start_date": "",
"end_date": ""
}
},
{
"name": "revenue_earned",
"value": "50000",
"meta": {
"start_date": "",
"end_date": ""
}
},
{
"name": "orders_received",
"value": "302",
"meta": {
"start_date": "",
"end_date": ""
}
},
{
"name": "pages_viewed",
"value": "4,670",
"meta": {
"start_date": "",
"end_date": ""
}
},
{
"name": "tickets_sold",
"value": "302",
"meta": {
"start_date": "",
"end_date": ""
}
}
],
"interactions": {
"saves": {
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"created_on": "",
"updated_on": ""
},
"shares": {
"uuid": "6d3a2eec-bfa2-4975-be73-2fb7ff9850fd",
"created_on": "",
"updated_on": ""
}
}
},
{
"uuid": "ad3a2eec-bfa2-4975-be73-2fb7ff9850fd"
}
],
"pagination": {
"records": "",
"position": "",
"rows": "",
"order_by": ""
}
}"""

# "9. GET /events/{uuid}/sessions", Response: the event's sessions grouped by type, both printed
# as empty objects. Served for the Venue Event, whose own `sessions` object lists two sessions.
SESSIONS_ANSWER = """\
{
"sessions": [
{
"type": "multiple-choice",
"session_lists": [
{
},
{
}
]
}
],
"pagination": {
"records": "",
"position": "",
"rows": "",
"order_by": ""
}
}"""

# Every part above that is the doc's text as printed; tests check each is in the doc.
VERBATIM = {"token": TOKEN_ANSWER, "events": EVENTS_ANSWER, "sessions": SESSIONS_ANSWER}


def settings(origin: str) -> dict[str, str]:
    """The environment a run needs to load from the doc sample server at `origin`."""
    return {
        "SOURCES__EVENTBOOKINGS__BASE_URL": origin + API_PREFIX,
        "SOURCES__EVENTBOOKINGS__TOKEN_URL": origin + TOKEN_PATH,
        "SOURCES__EVENTBOOKINGS__CLIENT_ID": CLIENT_ID,
        "SOURCES__EVENTBOOKINGS__CLIENT_SECRET": CLIENT_SECRET,
    }


def routes() -> dict[tuple[str, str], Handler]:
    """The token endpoint, the event list and each list of both sample events."""
    token = json.loads(TOKEN_ANSWER)["access_token"]
    table: dict[tuple[str, str], Handler] = {
        ("POST", TOKEN_PATH): token_endpoint,
        ("GET", f"{API_PREFIX}/events"): bearer_only(token, paged(EVENTS_ANSWER, "events")),
    }
    for event_uuid in (VENUE_EVENT, BARE_EVENT):
        answers = event_list_answers(event_uuid)
        for items_key, path in EVENT_LISTS.items():
            route = ("GET", API_PREFIX + path.format(uuid=event_uuid))
            table[route] = bearer_only(token, paged(answers[items_key], items_key))
    return table


def event_list_answers(event_uuid: str) -> dict[str, str]:
    """What each list of one sample event answers, by the key it lists its items under."""
    if event_uuid == VENUE_EVENT:
        sessions, tickets = SESSIONS_ANSWER, listing("tickets", ticket_levels())
    else:
        # Server addition: the doc prints nothing of the second event but its uuid, so it
        # lists no sessions and no tickets.
        sessions, tickets = listing("sessions", []), listing("tickets", [])
    # Server addition: the doc prints no attendee, order or waiting-list payload; none yet.
    return {"sessions": sessions, "tickets": tickets, "attendees": listing("attendees", []),
            "orders": listing("orders", []), "waiting_list": listing("waiting_list", [])}


def ticket_levels() -> list[Any]:
    """The ticket levels the Venue Event lists in the events sample, read from it so they
    cannot drift from the doc."""
    [event] = [event for event in json.loads(EVENTS_ANSWER)["events"] if event["uuid"] == VENUE_EVENT]
    return event["tickets"]["levels"]


def listing(items_key: str, items: list[Any]) -> str:
    """Server addition: a list answer the doc does not print, shaped as its printed ones are
    (the items under their key, and the `pagination` block as the samples print it)."""
    pagination = json.loads(SESSIONS_ANSWER)["pagination"]
    return json.dumps({items_key: items, "pagination": pagination}, indent=1)


def paged(answer: str, items_key: str) -> Handler:
    """Serves `answer` a page at a time, by `position` (the first record) and `rows`."""

    def handle(request: Request) -> Answer:
        try:
            position = int(request.query.get("position", 0))
            rows = int(request.query.get("rows", DEFAULT_ROWS))
        except ValueError:
            # Server addition: the doc prints no error for a page that is not a number.
            return error(400, "position and rows must be integers")
        payload = json.loads(answer)
        items = payload[items_key]
        if position == 0 and rows >= len(items):
            return Answer(answer)  # the whole list fits one page: the answer as printed
        # Server addition: a page the doc does not print, cut from its list and written anew
        # (so a repeated key keeps its last value, as a JSON reader keeps it). Sessions page
        # by group here: the doc prints one group and nothing on how groups page.
        start = max(position, 0)
        return Answer(json.dumps({**payload, items_key: items[start:start + rows]}))

    return handle


def bearer_only(token: str, handler: Handler) -> Handler:
    """Answers only calls that carry the doc's token as a bearer token."""

    def handle(request: Request) -> Answer:
        if header(request, "Authorization") != f"Bearer {token}":
            # Server addition: the doc requires the token on every call but prints no refusal.
            return error(401, "Unauthorized")
        return handler(request)

    return handle


def token_endpoint(request: Request) -> Answer:
    """The doc's token answer, for the form its curl example posts."""
    form = {name: values[-1] for name, values in parse_qs(request.body.decode()).items()}
    # Server addition: the doc answers 400 to wrong credentials or grant type, its payload
    # column left blank; the error names are OAuth2's (RFC 6749, 5.2).
    if form.get("grant_type") != "client_credentials":
        return Answer('{"error": "unsupported_grant_type"}', 400)
    if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
        return Answer('{"error": "invalid_client"}', 400)
    return Answer(TOKEN_ANSWER)


def error(status: int, message: str) -> Answer:
    """Server addition: an error in the `statusCode`/`message` envelope the doc's answers use."""
    return Answer(json.dumps({"statusCode": status, "message": message}), status)


def header(request: Request, name: str) -> str | None:
    return next((value for key, value in request.headers.items() if key.lower() == name.lower()), None)

