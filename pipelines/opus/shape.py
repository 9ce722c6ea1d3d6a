"""The raw tables' declared shape: every field the OPUS doc prints for each list, as text.

OPUS sends every value as a string (numbers, flags and dates included); nested
objects are flattened by dlt with `__`. Declared, each table and column exists
from the first load, even when a list is empty or a documented field is never
sent; a field the doc does not name still lands as its own column.
"""

from __future__ import annotations

from pipelines.lists import nullable

EVENTS = nullable("text", (
    "id", "api_key", "name", "template", "type", "category", "slug", "icon", "banner", "description",
    "start_date", "end_date", "timezone", "url",
))
SESSIONS = nullable("text", (
    "id", "product_id", "api_key", "reference_id", "identification", "title", "start_date_time",
    "end_date_time", "description", "alertness_issued", "alertness_required", "parent_product_id",
    "session_type", "session_category", "session_track", "session_room", "session_facility", "event_id",
    "ce__test_id", "ce__credits", "ce__expiration_date", "ce__active",
))
SPEAKERS = nullable("text", (
    "id", "salutation", "first_name", "middle_name", "last_name", "credentials", "company", "title", "icon",
    "description", "email", "identification", "created_at", "updated_at", "suffix", "api_key", "event_id",
))
PACKAGES = nullable("text", (
    "product_id", "identification", "api_key", "name", "start_date_time", "end_date_time", "event_id",
    "package_type", "package_category",
))
REGISTRANTS = nullable("text", (
    "user_id", "email", "registration_id", "user_prefix", "user_first_name", "user_middle_name",
    "user_last_name", "user_suffix", "user_credentials", "user_title", "user_company", "user_address_1",
    "user_address_2", "user_city", "user_state", "user_zip_code", "user_country", "user_phone",
    "user_image_url", "user_member_number", "user_api_username", "user_designation", "member", "source",
    "registered", "event_id", "access_codes__accesscode_used", "access_codes__accesscode_description",
))
ATTENDEES = nullable("text", (
    "event_id", "id", "email", "first_name", "last_name", "middle_name", "api_username", "title", "company",
    "image_url", "alertness", "alertness_issued", "alertness_required", "total_time", "total_seconds",
))
SESSION_ATTENDANCE = nullable("text", (
    "event_id", "user_id", "product_identification", "product_title", "email", "first_name", "last_name",
    "middle_name", "api_username", "title", "company", "image_url", "alertness", "alertness_issued",
    "alertness_required", "total_time", "total_seconds",
))
SESSION_ITINERARIES = nullable("text", (
    "id", "product_id", "api_key", "reference_id", "identification", "title", "start_date_time",
    "end_date_time", "description", "event_id",
))
SESSION_ON_DEMAND = nullable("text", (
    "product_id", "session_id", "api_key", "reference_id", "identification", "title", "start_date_time",
    "end_date_time", "description", "total_views", "total_time", "event_id",
))
