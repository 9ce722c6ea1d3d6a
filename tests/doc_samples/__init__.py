"""The vendors' own sample payloads, copied from ``shared/vendor-docs/``, and a server that serves them."""
