"""Okendo: what its webhooks carry and how the bridge reads them.

- `schemas`: validation of the envelope and of each resource type (the failure policy is there);
- `envelope`: the cheap envelope check ingest runs before storing;
- `fastload`: the compiled path that accepts what the schemas accept, faster;
- `nps`: NPS scoring, written once for hook bodies and the negative rule;
- `answers`: survey and quiz answers as text;
- `shopper`: the Kustomer customer an event's shopper is (the client is passed in);
- `signing_secrets`: how a `whsec_` signing secret (or a rotation's list of them) is read;
- `api`: the Okendo REST client; `cli`: `bridge okendo ...` (webhook subscriptions).

Import from the module that holds a name; this package re-exports nothing, so each name has
one place to be looked up.
"""
