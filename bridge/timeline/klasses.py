"""The two card types (Kustomer klasses) the bridge puts on a shopper's timeline.

A klass is created once per Kustomer org (``bridge kustomer setup-timeline``). Its
attributes are typed by the suffix of their names, as everywhere in Kustomer (``Str``,
``Txt`` up to 1,024 characters, ``Num``, ``At``, ``Bool``, ``Url``), so a card may carry
them as soon as the klass exists; the display names below only make them read well.
The names are chosen so that even Kustomer's default label (the name, title-cased,
without its suffix) is right when the display names could not be set.

Each fact here is in one place: the card builder (``cards``) writes exactly these
attributes, and a test checks it never writes another.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KlassDefinition:
    name: str  # Kustomer's system name, used in KObject paths; never changes
    display_name: str
    icon: str
    color: str
    resource_type: str  # the Okendo resource type whose cards this klass holds
    attributes: dict = field(default_factory=dict)  # attribute name -> display name

    def create_body(self) -> dict:
        """The CreateKlass request body."""
        return {"name": self.name, "displayName": self.display_name, "icon": self.icon,
                "color": self.color, "status": "enabled"}

    def metadata_properties(self) -> dict:
        return {name: {"displayName": label} for name, label in self.attributes.items()}


REVIEW = KlassDefinition(
    name="okendoReview", display_name="Okendo review", icon="star", color="#F5A623",
    resource_type="review",
    attributes={
        "ratingNum": "Rating (1-5)",
        "titleStr": "Title",
        "bodyTxt": "Review",
        "statusStr": "Status",  # approved | pending | rejected | deleted
        "sentimentStr": "Sentiment",
        "recommendsBool": "Recommends",
        "productStr": "Product",
        "productIdStr": "Product id",
        "variantStr": "Variant",
        "orderStr": "Order",
        "reviewerStr": "Reviewer",
        "verifiedStr": "Verified status",
        "replyTxt": "Store reply",
        "mediaCountNum": "Photos and videos",
        "firstImageUrl": "First photo",
        "reviewUrl": "Review in Okendo",
        "reviewIdStr": "Okendo review id",
        "storeIdStr": "Okendo store id",
        "writtenAt": "Written",
        "deletedAt": "Deleted in Okendo",
        "sequenceStr": "Okendo sequence number",
    },
)

SURVEY_RESPONSE = KlassDefinition(
    name="okendoSurveyResponse", display_name="Okendo survey response", icon="clipboard",
    color="#4A90E2", resource_type="survey_response",
    attributes={
        "surveyStr": "Survey",
        "surveyIdStr": "Survey id",
        "npsScoreNum": "NPS score (0-10)",
        "npsCategoryStr": "NPS category",
        "answersTxt": "Answers",
        "answerCountNum": "Questions answered",
        "channelStr": "Channel",
        "orderStr": "Order",
        "statusStr": "Status",  # received | deleted
        "responseIdStr": "Okendo response id",
        "storeIdStr": "Okendo store id",
        "respondedAt": "Responded",
        "deletedAt": "Deleted in Okendo",
        "sequenceStr": "Okendo sequence number",
    },
)

KLASSES = (REVIEW, SURVEY_RESPONSE)
BY_RESOURCE_TYPE = {klass.resource_type: klass for klass in KLASSES}
TIMELINE_TYPES = frozenset(BY_RESOURCE_TYPE)


def klass_for(resource_type: str) -> KlassDefinition | None:
    return BY_RESOURCE_TYPE.get(resource_type)


def card_external_id(event) -> str:
    """``okendo-review-<reviewId>``, ``okendo-survey_response-<surveyResponseId>``."""
    return f"okendo-{event.resource_type}-{event.resource_id}"
