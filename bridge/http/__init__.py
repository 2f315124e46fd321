"""What the bridge's two HTTP clients (`bridge.kustomer`, `bridge.okendo.api`) share.

`errors.CallError` is the base of both clients' errors (the message, the HTTP status and a
server's `retry_after`); `retry_after` reads that header and gives tenacity the wait a
server asked for; `scrub` keeps a credential out of any text a server echoed back;
`excerpt` quotes a server's reply on one bounded line; `env_session` is the requests Session
both use, reading the proxy environment once per origin.
What differs stays with each client: Kustomer paces per minute across threads and
redacts URLs (a hook URL is a credential), Okendo spaces its few calls evenly and tells
whether a create may have gone through. Failure policy: nothing here raises on bad input;
an unreadable header is None, as if it were absent.
"""
