"""What a review or survey response looks like as a card on the shopper's Kustomer timeline.

:func:`card_body` builds the KObject body (title, description, images, data and the
klass's typed attributes) for a create or an update; :func:`deleted_body` builds the
update that marks a card deleted. Failure policy: nothing here raises for anything a
valid event can hold: missing parts are left out (a delete may carry a reduced resource),
texts are cut to Kustomer's limits, values that do not fit their attribute's type are
dropped (``convert_custom`` decides, as for conversation attributes).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bridge.mapping.feedback import answers_of, nps_of
from bridge.mapping.templates import stars
from bridge.mapping.ticket import convert_custom
from bridge.timeline.klasses import KlassDefinition, klass_for

TITLE_LIMIT = 255  # a card's headline; Kustomer does not document a limit, keep it readable
DESCRIPTION_LIMIT = 1_024
IMAGES_MAX = 10
DELETED_PREFIX = "[Deleted in Okendo] "


def card_body(event, external_id: str) -> dict:
    """The CreateCustomerKObject / UpdateKObject body for ``event`` (a ValidatedEvent)."""
    klass = klass_for(event.resource_type)
    if klass is None:
        raise ValueError(f"no timeline card for {event.resource_type} events")
    builder = _review if klass.resource_type == "review" else _survey_response
    title, description, images, data, custom = builder(event.resource)
    custom.update(storeIdStr=event.subscriber_id, sequenceStr=str(event.sequence_number))
    body = {"title": _cut(title, TITLE_LIMIT), "externalId": external_id,
            "description": _cut(description, DESCRIPTION_LIMIT) if description else None,
            "images": images or None, "data": data or None,
            "custom": typed(klass, custom)}
    return {key: value for key, value in body.items() if value is not None}


def deleted_body(event, card: dict) -> dict:
    """Mark an existing card deleted without blanking what it showed: a delete event may
    carry a reduced resource, so only the status, the time and the title change."""
    klass = klass_for(event.resource_type)
    title = str((card.get("attributes") or {}).get("title") or "")
    if not title.startswith(DELETED_PREFIX):
        title = DELETED_PREFIX + title
    return {"title": _cut(title, TITLE_LIMIT),
            "custom": typed(klass, {"statusStr": "deleted", "deletedAt": _now(),
                                    "sequenceStr": str(event.sequence_number)})}


def typed(klass: KlassDefinition, values: dict) -> dict:
    """Only the klass's own attributes, each converted to its suffix's type; empties out."""
    custom = {}
    for name, value in values.items():
        if name not in klass.attributes:
            raise KeyError(f"{name} is not an attribute of klass {klass.name}")
        try:
            converted = convert_custom(name, value)
        except ValueError:
            continue  # e.g. a dateCreated that is no date: the card is still worth having
        if converted is not None:
            custom[name] = converted
    return custom


def card_sequence(card: dict) -> int | None:
    """The Okendo sequenceNumber a card last showed, if it says."""
    value = ((card.get("attributes") or {}).get("custom") or {}).get("sequenceStr")
    return int(value) if isinstance(value, str) and value.isdigit() else None


def card_customer_id(card: dict) -> str | None:
    customer = ((card.get("relationships") or {}).get("customer") or {}).get("data") or {}
    return customer.get("id") if isinstance(customer, dict) else None


# ------------------------------------------------------------------------- per type


def _review(review: dict) -> tuple[str, str, list, dict, dict]:
    rating = review.get("rating")
    headline = review.get("title") or _first_words(review.get("body")) or "(no title)"
    title = f"{stars(rating)} {headline}".strip() if stars(rating) else f"Review: {headline}"
    product = " / ".join(p for p in (_s(review.get("productName")), _s(review.get("variantName"))) if p)
    order = _s(_get(review, "order", "orderNumber")) or _s(_get(review, "order", "orderId"))
    description = " · ".join(p for p in (product, f"order {order}" if order else None,
                                          _s(review.get("body"))) if p)
    media = [m for m in review.get("media") or [] if isinstance(m, dict)]
    images = [m.get("largeUrl") or m.get("fullSizeUrl") for m in media
              if m.get("type") == "image" and not m.get("isHidden")
              and (m.get("largeUrl") or m.get("fullSizeUrl"))][:IMAGES_MAX]
    reviewer = review.get("reviewer") if isinstance(review.get("reviewer"), dict) else {}
    reply = review.get("reply") if isinstance(review.get("reply"), dict) else {}
    custom = {
        "ratingNum": rating, "titleStr": review.get("title"), "bodyTxt": review.get("body"),
        "statusStr": review.get("status"), "sentimentStr": review.get("sentiment"),
        "recommendsBool": review.get("isRecommended"),
        "productStr": review.get("productName"), "productIdStr": review.get("productId"),
        "variantStr": review.get("variantName"), "orderStr": order,
        "reviewerStr": reviewer.get("name") or reviewer.get("displayName"),
        "verifiedStr": reviewer.get("verifiedStatus"),
        "replyTxt": reply.get("rawBody") or reply.get("body"),
        "mediaCountNum": len(media) if media else None,
        "firstImageUrl": images[0] if images else None,
        "reviewIdStr": review.get("reviewId"), "writtenAt": review.get("dateCreated"),
    }
    data = {key: review.get(key) for key in ("media", "attributesWithRating", "productAttributes",
                                             "reply", "reward", "tags") if review.get(key)}
    return title, description, images, data, custom


def _survey_response(response: dict) -> tuple[str, str, list, dict, dict]:
    nps = nps_of(response)
    answers = answers_of(response)
    survey = _s(response.get("surveyName")) or "Survey"
    if nps is not None and nps.score is not None:
        title = f"NPS {nps.score}/10{' ' + nps.category if nps.category else ''} · {survey}"
    else:
        title = f"{survey} response"
    lines = []
    for number, answer in enumerate(answers, 1):
        lines.append(f"{number}. {answer.question or answer.id or '(question)'}\n   {answer.answer or '(no answer)'}")
    free_text = next((a.answer for a in answers if a.type in ("free-text", "text") and a.answer), None)
    custom = {
        "surveyStr": response.get("surveyName"), "surveyIdStr": response.get("surveyId"),
        "npsScoreNum": nps.score if nps else None, "npsCategoryStr": nps.category if nps else None,
        "answersTxt": "\n".join(lines) or None, "answerCountNum": len(answers) if answers else None,
        "channelStr": response.get("channel"), "orderStr": _get(response, "order", "remoteOrderId"),
        "statusStr": "received", "responseIdStr": response.get("surveyResponseId"),
        "respondedAt": response.get("dateCreated"),
    }
    data = {"answers": [a.as_dict() for a in answers]} if answers else {}
    return title, free_text or "", [], data, custom


# ------------------------------------------------------------------------- helpers


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _s(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _first_words(text: Any, limit: int = 60) -> str | None:
    text = _s(text)
    return _cut(" ".join(text.split()), limit) if text else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
