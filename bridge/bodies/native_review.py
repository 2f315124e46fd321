"""The ``native-review`` body: what Okendo's own Kustomer integration posts for a review.

Merchants' Kustomer workflows were built against that body (kustomer.md, "The body
Okendo's native integration posts for a review"), reading paths such as
``data.review.rating``; this shape lets the bridge replace the integration without
touching them.

Key set policy: the native keys, at every level, are ALWAYS present, whatever the event
carries, so a workflow path never disappears:

* fields Okendo's webhook does not carry stay null: ``review.languageCode``,
  ``review.source`` and ``product.sku`` are always null;
* a missing object (no reward, no reviewer, the reduced resource of a delete) gives its
  section with every value null (``reward`` included: ``{"type": null, "description":
  null}`` rather than ``null``, so ``data.reward.type`` always resolves), and empty lists
  and zero counts for ``media`` and ``attributes``.

Additions (the native integration only ever posted new reviews, so a workflow needs
these to tell a create from an update or a delete): top-level ``event``
("review.create"...) and ``topic``, and ``review.status`` (approved / pending /
rejected). Nothing else is added.

Derived values: ``orderId`` is the order number the shopper sees ("#1205");
``reviewer.countryCode`` the upper-cased ``reviewer.location.country.code``;
``product.productId`` the product id without its platform prefix; ``media`` the visible
items' full-size URLs (large as a fallback) split by type; ``attributes`` the rating
attributes followed by the product attributes, as ``{title, value}``.

The body is built by one function whose dict literals give the key set and its order
in one place (plain Python: a marshmallow dump of the same shape cost ten times as much,
docs/design-notes.md).

Failure policy: only validated ``review`` events come here (see
:func:`bridge.bodies.build_body`), and every lookup tolerates a missing or null part, so
building the body does not fail.
"""

from __future__ import annotations

from typing import Any

from bridge.okendo.schemas import ValidatedEvent, dig, email_of

# Platform prefixes Okendo puts in front of product ids. Only these are stripped: an id
# with another prefix is left alone rather than guessed at.
PRODUCT_ID_PREFIXES = ("shopify-",)


def strip_platform_prefix(product_id: Any) -> Any:
    """``shopify-1885452822491`` → ``1885452822491``; other values unchanged."""
    if isinstance(product_id, str):
        for prefix in PRODUCT_ID_PREFIXES:
            if product_id.startswith(prefix) and len(product_id) > len(prefix):
                return product_id[len(prefix) :]
    return product_id


def _country_code(resource: dict) -> str | None:
    code = dig(resource, "reviewer", "location", "country", "code")
    if isinstance(code, str) and code.strip():
        return code.strip().upper()
    return None


def _media(resource: dict) -> dict:
    """Visible media URLs per type; hidden items (a merchant hid them) are skipped."""
    images: list[str] = []
    videos: list[str] = []
    items = resource.get("media")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("isHidden") is True:
            continue
        url = item.get("fullSizeUrl") or item.get("largeUrl")
        kind = item.get("type")
        if not isinstance(url, str) or not isinstance(kind, str):
            continue
        if kind.lower() == "image":
            images.append(url)
        elif kind.lower() == "video":
            videos.append(url)
    return {"imageUrls": images, "videoUrls": videos,
            "imageCount": len(images), "videoCount": len(videos)}


def _attributes(resource: dict) -> list[dict]:
    """The rating attributes, then the product attributes, as ``{title, value}``."""
    items: list[dict] = []
    for key in ("attributesWithRating", "productAttributes"):
        value = resource.get(key)
        if isinstance(value, list):
            items.extend({"title": item.get("title"), "value": item.get("value")}
                         for item in value if isinstance(item, dict))
    return items


def native_review_body(event: ValidatedEvent) -> dict:
    """The native-review body of a validated ``review`` event; key order follows
    kustomer.md. Validation guarantees each value's type (strings, an int rating,
    booleans), so values are copied as they are."""
    resource = event.resource
    get = resource.get
    return {
        "event": event.name,  # addition
        "topic": event.topic,  # addition
        "reviewerEmail": email_of(event),
        "orderId": dig(resource, "order", "orderNumber"),
        "review": {
            "rating": get("rating"),
            "title": get("title"),
            "body": get("body"),
            "isRecommended": get("isRecommended"),
            "sentiment": get("sentiment"),
            "languageCode": None,  # not in Okendo's webhook review
            "source": None,  # capture source: not in the webhook either
            "dateCreated": get("dateCreated"),
            "reviewId": get("reviewId"),
            "status": get("status"),  # addition: approved/pending/rejected
        },
        "reviewer": {
            "displayName": dig(resource, "reviewer", "displayName"),
            "name": dig(resource, "reviewer", "name"),
            "countryCode": _country_code(resource),
        },
        # The native body has no reward value, only type and description.
        "reward": {
            "type": dig(resource, "reward", "type"),
            "description": dig(resource, "reward", "description"),
        },
        "media": _media(resource),
        "attributes": _attributes(resource),
        "product": {
            "productId": strip_platform_prefix(get("productId")),
            "productName": get("productName"),
            "variantId": get("variantId"),
            "variantName": get("variantName"),
            "sku": None,  # not in the webhook review
        },
    }
