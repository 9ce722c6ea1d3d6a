"""The raw tables' declared shape: every field the EventBookings doc prints (or, where it
prints no payload, the sandbox's documented assumption) with the type it lands as.

Numbers and flags mostly come as strings and stay text; nested parts of events and
sessions are kept as JSON; `{utc, local}` pairs and the buyer are flattened by dlt
with `__`. Declared, each table and column exists from the first load, even when a
list is empty or a documented field is never sent.
"""

from __future__ import annotations

from pipelines.lists import nullable

EVENTS = {
    **nullable("text", (
        "uuid", "status", "name", "display_name", "description", "timezone", "currency",
        "enable_datetime_conversion", "created_on", "updated_on", "ticket_instruction",
    )),
    **nullable("json", (
        "extended_status", "banner", "resources", "links", "tax", "attending_on", "org", "coupons",
        "early_bird_discount", "merchandise", "settings", "custom_attributes", "occurrence", "configuration",
        "tickets", "listing", "sessions", "refund", "metrics", "fees", "activities", "interactions",
    )),
    **nullable("bool", ("event_settings_reviewed",)),
}
SESSIONS = {
    **nullable("text", (
        "type", "uuid", "status", "name", "display_name", "description", "image", "created_on", "updated_on",
        "event_uuid",
    )),
    **nullable("json", (
        "configuration", "tickets", "session_booking_starts_on", "session_booking_ends_on", "session_starts_on",
        "session_ends_on",
    )),
}
TICKETS = {
    **nullable("text", (
        "uuid", "display_order", "name", "description", "quantity", "quantity_sold", "category",
        "ticket_instruction", "event_uuid", "settings__enable_sell_ticket_on_venue",
        "settings__price_included_service_charge", "settings__enable_waiting_list",
        "early_bird_discount__discount_type", "early_bird_discount__discount", "settings__pass_on_fees",
        "settings__hide_ticket_until_booking_start",
    )),
    **nullable("bigint", (
        "max_quantity_per_customer", "status", "session_id", "parent_id", "settings__enable_digital_pass",
    )),
    **nullable("json", (
        "settings__booking_starts_on", "settings__booking_ends_on", "settings__restrictions",
        "early_bird_discount__discount_starts_on", "early_bird_discount__discount_ends_on",
    )),
}
ORDERS = nullable("text", (
    "uuid", "order_number", "status", "currency", "subtotal", "discount", "fees", "total", "refunded_amount",
    "payment_method", "created_on", "updated_on", "event_uuid", "ordered_on__utc", "ordered_on__local",
    "refunded_on__utc", "refunded_on__local", "buyer__uuid", "buyer__first_name", "buyer__last_name",
    "buyer__email", "buyer__phone",
))
ORDER_LINE_ITEMS = {
    **nullable("text", ("uuid", "ticket_uuid", "ticket_name", "pricing_uuid", "variation", "unit_price", "amount")),
    **nullable("bigint", ("quantity",)),
}
TICKET_PRICING_DETAILS = nullable("text", ("uuid", "variation", "price", "quantity_included", "quantity_sold"))
ATTENDEES = nullable("text", (
    "uuid", "order_uuid", "ticket_uuid", "ticket_name", "variation", "first_name", "last_name", "email", "phone",
    "status", "checked_in", "checked_in_on__utc", "checked_in_on__local", "created_on", "updated_on",
    "event_uuid",
))
WAITING_LIST = nullable("text", (
    "event_uuid", "uuid", "email", "first_name", "last_name", "quantity", "status", "created_on__utc",
    "created_on__local",
))
