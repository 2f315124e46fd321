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

Failure policy: only validated ``review`` events come here (see
:func:`bridge.bodies.build_body`), and every lookup tolerates a missing or null part, so
building the body does not fail.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_dump

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


# Each section schema dumps from the review resource itself (a dict); ``dump_default``
# keeps a key present with null when the resource lacks it.


def _section(schema_class: type[Schema]) -> fields.Function:
    """A body section dumped from the event's resource by ``schema_class``.

    (Not ``Nested(..., attribute="resource")``: marshmallow refuses several fields
    sharing one attribute.)
    """
    schema = schema_class()
    return fields.Function(lambda event: schema.dump(event.resource))


class NativeReviewSection(Schema):
    rating = fields.Integer(dump_default=None)
    title = fields.String(dump_default=None)
    body = fields.String(dump_default=None)
    isRecommended = fields.Boolean(dump_default=None)
    sentiment = fields.String(dump_default=None)
    languageCode = fields.Constant(None)  # not in Okendo's webhook review
    source = fields.Constant(None)  # capture source: not in the webhook either
    dateCreated = fields.String(dump_default=None)
    reviewId = fields.String(dump_default=None)
    status = fields.String(dump_default=None)  # addition: approved/pending/rejected


class NativeReviewerSection(Schema):
    displayName = fields.Function(lambda resource: dig(resource, "reviewer", "displayName"))
    name = fields.Function(lambda resource: dig(resource, "reviewer", "name"))
    countryCode = fields.Function(_country_code)


class NativeRewardSection(Schema):
    # The native body has no reward value, only type and description.
    type = fields.Function(lambda resource: dig(resource, "reward", "type"))
    description = fields.Function(lambda resource: dig(resource, "reward", "description"))


class NativeMediaSection(Schema):
    imageUrls = fields.List(fields.String())
    videoUrls = fields.List(fields.String())
    imageCount = fields.Function(lambda media: len(media["imageUrls"]))
    videoCount = fields.Function(lambda media: len(media["videoUrls"]))

    @pre_dump
    def _split_by_type(self, resource: dict, **kwargs) -> dict:
        """Visible media URLs per type; hidden items (a merchant hid them) are skipped."""
        media: dict[str, list[str]] = {"imageUrls": [], "videoUrls": []}
        items = resource.get("media")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or item.get("isHidden") is True:
                continue
            url = item.get("fullSizeUrl") or item.get("largeUrl")
            kind = item.get("type")
            if not isinstance(url, str) or not isinstance(kind, str):
                continue
            if kind.lower() == "image":
                media["imageUrls"].append(url)
            elif kind.lower() == "video":
                media["videoUrls"].append(url)
        return media


class NativeAttributeItem(Schema):
    title = fields.Raw(dump_default=None)
    value = fields.Raw(dump_default=None)


class NativeProductSection(Schema):
    productId = fields.Function(lambda resource: strip_platform_prefix(resource.get("productId")))
    productName = fields.String(dump_default=None)
    variantId = fields.String(dump_default=None)
    variantName = fields.String(dump_default=None)
    sku = fields.Constant(None)  # not in the webhook review


class NativeReviewBodySchema(Schema):
    """Dumps a :class:`ValidatedEvent` of a review; key order follows kustomer.md."""

    event = fields.Function(lambda event: event.name)  # addition
    topic = fields.String()  # addition
    reviewerEmail = fields.Function(email_of)
    orderId = fields.Function(lambda event: dig(event.resource, "order", "orderNumber"))
    review = _section(NativeReviewSection)
    reviewer = _section(NativeReviewerSection)
    reward = _section(NativeRewardSection)
    media = _section(NativeMediaSection)
    attributes = fields.Method("get_attributes")
    product = _section(NativeProductSection)

    def get_attributes(self, event: ValidatedEvent) -> list[dict]:
        items: list[Any] = []
        for key in ("attributesWithRating", "productAttributes"):
            value = event.resource.get(key)
            if isinstance(value, list):
                items.extend(item for item in value if isinstance(item, dict))
        return NativeAttributeItem(many=True).dump(items)


_SCHEMA = NativeReviewBodySchema()


def native_review_body(event: ValidatedEvent) -> dict:
    """The native-review body of a validated ``review`` event."""
    return _SCHEMA.dump(event)
